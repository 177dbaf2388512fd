"""sparkfleet: a sharded fleet of Spark operators for Kubernetes."""

__version__ = "0.1.0"
