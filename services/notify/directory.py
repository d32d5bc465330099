"""Who is told and how early: staff addresses, lead times per unit, rate limits, quiet hours."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from contracts.notification import Language

DEFAULT_FILE = Path(__file__).resolve().parents[2] / "deploy" / "notify.yaml"


class Person(BaseModel):
    """A member of staff who may be told: their role, unit and work addresses."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    id: str = Field(min_length=1, max_length=128)
    role: str
    unit: str
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str | None = Field(default=None, pattern=r"^\+?[0-9 ()-]{5,20}$")
    wecom: str | None = Field(default=None, max_length=64)
    language: Language = "zh"


class Leads(BaseModel):
    """How many working days before each kind of deadline a reminder goes out."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    acceptance: int = Field(default=1, ge=0, le=15)
    mediation: int = Field(default=3, ge=0, le=15)
    owner: int = Field(default=2, ge=0, le=30)
    callback: int = Field(default=1, ge=0, le=15)


class Limits(BaseModel):
    """How many messages one person, or one unit, is sent in an hour at most."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    person_per_hour: int = Field(default=20, ge=1, le=10_000)
    unit_per_hour: int = Field(default=500, ge=1, le=1_000_000)


class QuietHours(BaseModel):
    """Local hours in which nothing is sent unless the user chose otherwise."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    start: int = Field(default=22, ge=0, le=23, alias="from")
    end: int = Field(default=8, ge=0, le=23, alias="to")


class Directory(BaseModel):
    """The whole notification configuration."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    people: tuple[Person, ...] = Field(default=(), max_length=100_000)
    leads: dict[str, Leads] = {}
    limits: Limits = Limits()
    quiet_hours: QuietHours = QuietHours()

    def person(self, user_id: str) -> Person | None:
        """Return a member of staff by id."""
        return next((p for p in self.people if p.id == user_id), None)

    def leads_of(self, unit: str) -> Leads:
        """Return the nearest lead times up the unit tree, or the defaults."""
        for scope in _upwards(unit):
            if scope in self.leads:
                return self.leads[scope]
        return Leads()

    def nearest(self, role: str, unit: str) -> tuple[str, ...]:
        """Return the people of a role in the unit, or else in the nearest unit above with any."""
        for scope in _upwards(unit):
            found = tuple(p.id for p in self.people if p.role == role and p.unit == scope)
            if found:
                return found
        return ()


def _upwards(unit: str) -> list[str]:
    parts = unit.split("/")
    return ["/".join(parts[:i]) for i in range(len(parts), 0, -1)]


def load_directory(path: Path = DEFAULT_FILE) -> Directory:
    """Read the notification configuration from a YAML file."""
    data: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Directory.model_validate(data or {})
