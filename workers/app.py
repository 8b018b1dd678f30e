"""The workers' Celery app: ``celery -A workers.app worker`` (or ``deteval worker``).

Its workers beat into the job store while they run (:mod:`workers.presence`)."""

from __future__ import annotations

from service.backend import joblog
from service.backend.config import get_settings
from service.backend.dispatch import make_celery
from workers.presence import beat_while_running

app = make_celery(get_settings())
app.conf.include = ["workers.tasks"]
beat_while_running()
joblog.install_handler()
