"""pydantic models of the resources sparkfleet serves; the CRDs are generated from them.

Names are imported on first use, so that ``sparkfleet.api.base`` alone (quantities, for flags)
does not load every model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sparkfleet.lazy import exports

if TYPE_CHECKING:
    from sparkfleet.api.base import KubeModel, format_validation_error
    from sparkfleet.api.scheduled import (
        SCHEDULED_SPARK_APPLICATIONS,
        ScheduledSparkApplication,
        ScheduledSparkApplicationSpec,
        ScheduledSparkApplicationStatus,
    )
    from sparkfleet.api.sparkapplication import (
        API_VERSION,
        GROUP,
        SPARK_APPLICATIONS,
        VERSION,
        SparkApplication,
        SparkApplicationSpec,
        SparkApplicationStatus,
    )

_HOMES = {
    "API_VERSION": "sparkfleet.api.sparkapplication",
    "GROUP": "sparkfleet.api.sparkapplication",
    "KubeModel": "sparkfleet.api.base",
    "SCHEDULED_SPARK_APPLICATIONS": "sparkfleet.api.scheduled",
    "SPARK_APPLICATIONS": "sparkfleet.api.sparkapplication",
    "ScheduledSparkApplication": "sparkfleet.api.scheduled",
    "ScheduledSparkApplicationSpec": "sparkfleet.api.scheduled",
    "ScheduledSparkApplicationStatus": "sparkfleet.api.scheduled",
    "SparkApplication": "sparkfleet.api.sparkapplication",
    "SparkApplicationSpec": "sparkfleet.api.sparkapplication",
    "SparkApplicationStatus": "sparkfleet.api.sparkapplication",
    "VERSION": "sparkfleet.api.sparkapplication",
    "format_validation_error": "sparkfleet.api.base",
}

__getattr__ = exports(__name__, _HOMES)


__all__ = [
    "API_VERSION",
    "GROUP",
    "SCHEDULED_SPARK_APPLICATIONS",
    "SPARK_APPLICATIONS",
    "VERSION",
    "KubeModel",
    "ScheduledSparkApplication",
    "ScheduledSparkApplicationSpec",
    "ScheduledSparkApplicationStatus",
    "SparkApplication",
    "SparkApplicationSpec",
    "SparkApplicationStatus",
    "format_validation_error",
]
