"""Celery-agnostic orchestration of a convergence, over ports: reconcile a batch of objects, resync all."""
