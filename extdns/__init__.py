"""extdns core: pure DNS-record domain logic shared by the Celery tasks and the DNS server (no I/O)."""

__version__ = "0.1.0"
