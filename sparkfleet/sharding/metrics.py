"""The fleet's metrics: ``sparkfleet_*``."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

SHARDS = Gauge("sparkfleet_shards", "Shards in the fleet's spec, as this member reads it", ("fleet",))
SHARDS_HELD = Gauge("sparkfleet_shards_held", "Shards this member holds and serves", ("fleet", "member"))
HANDOFFS = Counter(
    "sparkfleet_shard_handoffs",  # exposed as sparkfleet_shard_handoffs_total
    "Shards this member gave away or took over, by why",
    ("reason",),
)
HANDOFF_DURATION = Histogram(
    "sparkfleet_shard_handoff_duration_seconds",
    "From the old holder starting to let go of a shard to the new holder serving it (synced)",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 20, 30, 60),
)
LEASE_RENEW_FAILURES = Counter(
    "sparkfleet_lease_renew_failures",  # exposed as sparkfleet_lease_renew_failures_total
    "Failed renewals of this member's Lease",
)
MEMBERS = Gauge("sparkfleet_members", "Live members of the fleet, as this member sees them", ("fleet",))
IS_COORDINATOR = Gauge(
    "sparkfleet_is_coordinator", "1 while this member is the fleet's coordinator", ("fleet",)
)
FENCED = Counter(
    "sparkfleet_fenced",  # exposed as sparkfleet_fenced_total
    "Times this member stopped every shard at once because it could not renew its Lease in time",
)
