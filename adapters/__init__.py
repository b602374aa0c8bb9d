"""The I/O behind the controller's ports: etcd, the Kubernetes API, Redis, Kubernetes Events."""
