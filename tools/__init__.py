"""Developer tooling: the test environment (real etcd, kube-apiserver, Redis) and helpers."""
