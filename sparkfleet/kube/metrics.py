"""Request metrics under client-go's names, so existing dashboards read them unchanged."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# client-go's rest_client latency buckets.
LATENCY_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0, 60.0)

REQUESTS = Counter(
    "rest_client_requests",
    "Number of HTTP requests, partitioned by status code, method, and host.",
    ["code", "method", "host"],
)
REQUEST_DURATION = Histogram(
    "rest_client_request_duration_seconds",
    "Request latency in seconds, broken down by verb and host.",
    ["verb", "host"],
    buckets=LATENCY_BUCKETS,
)
RATE_LIMITER_DURATION = Histogram(
    "rest_client_rate_limiter_duration_seconds",
    "Client side rate limiter latency in seconds, broken down by verb and host.",
    ["verb", "host"],
    buckets=LATENCY_BUCKETS,
)
RETRIES = Counter(
    "rest_client_request_retries",
    "Number of request retries, partitioned by status code, verb, and host.",
    ["code", "verb", "host"],
)

DENIED = Counter(
    "sparkfleet_api_forbidden",
    "403 Forbidden answers that deny the operator a permission it uses (RBAC, admission); a create in a "
    "namespace being terminated is answered 403 too, and is not counted here.",
    ["verb", "resource"],
)
NAMESPACE_TERMINATING = Counter(
    "sparkfleet_api_namespace_terminating",
    "Creates refused because their namespace is being terminated (403 NamespaceTerminating).",
    ["verb", "resource"],
)

ERROR_CODE = "<error>"  # client-go's code label for a request that got no answer

# Not a client-go name (its reflector metrics are gone); what an operator needs after etcd compacts.
INFORMER_RELISTS = Counter(
    "sparkfleet_informer_relists",
    "Times an informer listed its resource again because its watch had expired (410 Gone).",
    ["resource"],
)
