"""The union's unit tree (federation → enterprise union → project department), loaded from YAML."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator


class ServiceLevels(BaseModel):
    """How fast a unit answers grievances and calls the worker back, in working days."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    ack_working_days: int = Field(default=1, ge=1, le=30)
    answer_working_days: int = Field(default=3, ge=1, le=60)
    callback_working_days: int = Field(default=3, ge=1, le=30)


class Unit(BaseModel):
    """One organisational unit; its id is a slash-separated path."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*(/[a-z0-9][a-z0-9_-]*)*$")
    name_zh: str
    name_en: str
    kind: str = "project_department"
    service_levels: ServiceLevels | None = None
    group_size: tuple[int, int] | None = None


class Units(BaseModel):
    """The whole tree; a unit's parent must be listed before it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    units: list[Unit]

    @model_validator(mode="after")
    def _parents_exist(self) -> Units:
        ids: set[str] = set()
        for unit in self.units:
            parent = unit.id.rpartition("/")[0]
            if parent and parent not in ids:
                raise ValueError(f"unit {unit.id} is listed before its parent {parent}")
            ids.add(unit.id)
        return self

    def get(self, unit_id: str) -> Unit | None:
        """Return a unit by id."""
        return next((u for u in self.units if u.id == unit_id), None)

    def service_levels(self, unit_id: str) -> ServiceLevels:
        """Return the nearest service levels up the tree, or the defaults."""
        parts = unit_id.split("/")
        for i in range(len(parts), 0, -1):
            unit = self.get("/".join(parts[:i]))
            if unit and unit.service_levels:
                return unit.service_levels
        return ServiceLevels()


def load_units(path: Path) -> Units:
    """Read the unit tree from a YAML file."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Units.model_validate(data)


def within(scope: str, unit: str) -> bool:
    """Return whether `unit` lies in the subtree rooted at `scope`."""
    return unit == scope or unit.startswith(scope.rstrip("/") + "/")
