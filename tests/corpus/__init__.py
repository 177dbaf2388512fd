"""Bad input, as data: invalid SparkApplications and SparkFleets, each with the field its error must name.

Every case is a JSON merge patch (RFC 7386: ``None`` deletes a field, lists are
replaced whole) on a valid manifest, plus who refuses it and the field path the
refusal must name. The unit tests run every case through the operator's own
validation; the integration tests create them on a real API server.
"""

from __future__ import annotations

import copy
from typing import Any


def merge_patch(target: Any, patch: Any) -> Any:
    """``target`` with ``patch`` applied as a JSON merge patch (``target`` is not modified)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result
