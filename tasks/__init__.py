"""The Celery application: `celery -A tasks worker|beat|flower`."""

from tasks.app import app

__all__ = ["app"]
