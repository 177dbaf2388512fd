"""Bad input, as data: invalid SparkApplications and SparkFleets, each with the field its error must name.

Every case is a JSON merge patch (RFC 7386: ``None`` deletes a field, lists are
replaced whole) on a valid manifest, plus who refuses it and the field path the
refusal must name. The unit tests run every case through the operator's own
validation; the integration tests create them on a real API server.
"""

from __future__ import annotations

from sparkfleet.testing.fake_client import merge_patch

__all__ = ["merge_patch"]
