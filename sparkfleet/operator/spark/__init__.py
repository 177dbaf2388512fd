"""The Spark controllers: validation, native submission, status, lifecycle."""
