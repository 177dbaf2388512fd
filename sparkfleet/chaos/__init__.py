"""Fault injection against a running fleet: kill -9, control-plane restarts, etcd compaction,
API Priority and Fairness throttling, a member cut off from the API server, a slow API server.

``python -m sparkfleet.chaos`` (``make chaos``) runs every scenario and writes a JSON report;
tests/chaos runs the same scenarios at a small scale in ``make test``.
"""
