"""The Celery application object and its configuration (broker from CELERY_BROKER_URL).

Importing it reads no settings and configures no logging: the worker and beat load the
`EXTERNAL_DNS_*` settings when they start (see `tasks.celery_tasks`), and refuse to start on a bad one.
"""

from __future__ import annotations

import os

from celery import Celery

from process.resources import DEFAULT_BROKER, retry_cap, visibility_timeout


def make_app() -> Celery:
    broker = os.environ.get("CELERY_BROKER_URL", DEFAULT_BROKER)
    app = Celery("extdns", include=["tasks.ping", "tasks.celery_tasks"])
    visibility = visibility_timeout()
    assert retry_cap() < visibility
    app.conf.update(
        broker_url=broker,
        result_backend=os.environ.get("CELERY_RESULT_BACKEND", broker),
        # Messages are small JSON documents; pickle is never accepted.
        task_serializer="json",
        result_serializer="json",
        accept_content=["json"],
        # A task is acknowledged after it ran, and redelivered if its worker dies mid-task.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        result_expires=3600,
        broker_connection_retry_on_startup=True,
        # An unacknowledged message (its worker died) is redelivered after this; tasks are idempotent.
        # The sweep for such messages runs every `unacked_restore_interval` s (kombu's default is 100 s).
        # Retry countdowns stay below it (`retry_cap`), so a task waiting for its retry is not redelivered.
        broker_transport_options={
            "visibility_timeout": visibility,
            "unacked_restore_interval": min(5.0, visibility),
            "unacked_restore_throttle": 1,
        },
        worker_hijack_root_logger=False,
        timezone="UTC",
    )
    return app


app = make_app()
