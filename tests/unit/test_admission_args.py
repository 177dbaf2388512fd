"""The local control plane's extra admission plugins: one API server flag, or none by default."""

from __future__ import annotations

import pytest

from sparkfleet.testing.controlplane import ControlPlane, admission_args


def test_no_plugins_no_flag() -> None:
    assert admission_args(()) == []


def test_plugins_in_one_flag() -> None:
    assert admission_args(("OwnerReferencesPermissionEnforcement", "AlwaysPullImages")) == [
        "--enable-admission-plugins=OwnerReferencesPermissionEnforcement,AlwaysPullImages"
    ]


@pytest.mark.parametrize("bad", ["", "A,B", "--enable-admission-plugins=X", "Owner References"])
def test_a_bad_name_is_refused_naming_the_field(bad: str) -> None:
    with pytest.raises(ValueError, match=r"^admission_plugins: .* is not an admission plugin name$"):
        admission_args((bad,))


def test_the_control_plane_refuses_a_bad_name_before_starting() -> None:
    with pytest.raises(ValueError, match="admission_plugins"):
        ControlPlane(admission_plugins=("Not,One",))
