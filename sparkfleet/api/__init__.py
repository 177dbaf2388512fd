"""pydantic models of the resources sparkfleet serves; the CRDs are generated from them."""

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
