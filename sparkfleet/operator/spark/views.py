"""The cache transforms of the Spark controllers, one function object per bound.

The shared informer cache (:mod:`sparkfleet.operator.cache`) shares a watch between controllers
only when they cache it through the same transform, by identity: the application controller's
SparkApplications and the scheduled controller's runs are one watch of each scope because both
ask :func:`application_view` with the same ``--max-application-bytes``.
"""

from __future__ import annotations

import functools

from sparkfleet.operator.cache import Transform
from sparkfleet.operator.spark import app_cache


@functools.cache
def application_view(max_bytes: int = app_cache.DEFAULT_MAX_APPLICATION_BYTES) -> Transform:
    """:func:`app_cache.bounded_view` of ``max_bytes``, the same object for the same bound."""
    return app_cache.bounded_view(max_bytes)


__all__ = ["application_view"]
