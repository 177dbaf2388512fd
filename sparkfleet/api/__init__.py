"""pydantic models of the resources sparkfleet serves (SparkApplication v1beta2, ...)."""
