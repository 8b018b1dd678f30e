"""The workers' Celery app: ``celery -A workers.app worker`` (or ``deteval worker``)."""

from __future__ import annotations

from service.config import get_settings
from service.dispatch import make_celery

app = make_celery(get_settings())
app.conf.include = ["workers.tasks"]
