"""Celery workers that score evaluation jobs (``celery -A workers.app worker``).

``workers.tasks`` holds the thin task; ``workers.pipeline`` the plain functions it calls.
"""
