"""Prometheus metrics: ExternalDNS's names where one exists, `extdns_` for the event pipeline."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

last_sync = Gauge(
    "external_dns_controller_last_sync_timestamp_seconds", "Time of the last successful full sync."
)
last_reconcile = Gauge(
    "external_dns_controller_last_reconcile_timestamp_seconds", "Time of the last attempted full sync."
)
no_op_runs = Counter("external_dns_controller_no_op_runs_total", "Full syncs that changed nothing.")
resyncs_skipped = Counter(
    "extdns_resyncs_unchanged_total",
    "Resyncs that found the cluster and the records as the last no-op one left them, and planned nothing.",
)
registry_errors = Counter("external_dns_registry_errors_total", "Failures reading or writing the registry.")
source_errors = Counter("external_dns_source_errors_total", "Failures reading the sources.")
skipped_owner_mismatch = Gauge(
    "external_dns_registry_skipped_records_owner_mismatch_per_sync",
    "Endpoints not created in the last full sync because another owner holds the name.",
    ["record_type", "owner", "foreign_owner", "domain"],
)
registry_records = Gauge("external_dns_registry_records", "Records found in etcd.", ["record_type"])
source_records = Gauge("external_dns_source_records", "Records the sources want.", ["record_type"])

invalid_input = Counter(
    "extdns_invalid_input_total",
    "Bad input skipped (an etcd key, an object, a setting), labelled with the culprit.",
    ["source", "culprit"],
)
zone_guard_refusals = Counter(
    "extdns_zone_guard_refusals_total",
    "Names refused: under a zone's reserved dns label, or outside the object's --namespace-domains.",
    ["rule", "namespace"],
)
etcd_writes = Counter("extdns_etcd_writes_total", "Keys written to etcd.", ["op"])
etcd_conflicts = Counter(
    "extdns_etcd_txn_conflicts_total", "Names whose conditional transaction lost a race and was re-planned."
)
backend_errors = Counter("extdns_backend_errors_total", "Unavailable backends, retried.", ["backend"])
tasks_total = Counter("extdns_tasks_total", "Celery tasks by outcome.", ["task", "outcome"])
requeues = Counter(
    "extdns_reconcile_requeues_total",
    "Reconcile tasks run again: lost every race (conflict) or an object held by another task.",
    ["reason"],
)
event_to_record = Histogram(
    "extdns_event_to_record_seconds",
    "From the watch event seen by the emitter to its records written in etcd.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
events_seen = Counter("extdns_emitter_events_total", "Watch events seen.", ["kind", "type"])
events_enqueued = Counter("extdns_emitter_enqueued_total", "Messages published to the queue.", ["kind"])
events_coalesced = Counter(
    "extdns_emitter_coalesced_total",
    "Events dropped because a message for the object was already waiting.",
    ["kind"],
)
watch_restarts = Counter("extdns_emitter_watch_restarts_total", "Watches restarted.", ["kind", "reason"])
leader = Gauge("extdns_emitter_leader", "1 while this emitter holds the leader lease.")
