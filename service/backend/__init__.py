"""The job backend, shared by the API and the workers: settings, the job store (Redis),
file storage, dispatch to Celery, worker presence and process helpers.

Framework-free (no FastAPI): the workers import it, and it imports nothing of the
service outside itself.
"""
