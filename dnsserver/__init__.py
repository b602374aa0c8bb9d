"""Authoritative DNS server answering from the SkyDNS records in etcd, as CoreDNS's etcd plugin does."""
