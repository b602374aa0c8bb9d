"""Reaching etcd: endpoints, TLS files and credentials checked once, and the clients they make."""
