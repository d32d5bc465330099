"""Configuration files are found by their settings, and a missing one is named by its setting."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from services.common.settings import Settings
from services.notify.config import NotifyConfig


def test_a_missing_units_file_names_its_setting(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match=r"TAIZHANG_UNITS_FILE names .*gone\.yaml"):
        Settings(environment="development", units_file=tmp_path / "gone.yaml")


def test_the_demo_users_file_is_needed_only_where_demo_sign_in_is_allowed(tmp_path: Path) -> None:
    gone = tmp_path / "users.yaml"
    assert Settings(environment="development", demo_users_file=gone).demo_users_file == gone
    with pytest.raises(ValidationError, match="TAIZHANG_DEMO_USERS_FILE names"):
        Settings(environment="development", demo_sign_in=True, demo_users_file=gone)


def test_a_missing_notify_directory_names_its_setting(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="TAIZHANG_NOTIFY_DIRECTORY_FILE names"):
        NotifyConfig(directory_file=tmp_path / "notify.yaml")


def test_files_elsewhere_are_read_from_where_their_settings_point(tmp_path: Path) -> None:
    units = tmp_path / "units.yaml"
    units.write_text("units: []\n", encoding="utf-8")
    assert Settings(environment="development", units_file=units).units_file == units
