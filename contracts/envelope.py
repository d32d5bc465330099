"""The event envelope every case event travels in, and its per-case hash chain."""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from contracts.catalog import CASE_ID_PATTERN

GENESIS_HASH = "0" * 64
# Fields of an event that its hash leaves out: the hash itself and the signature made over it.
UNHASHED = ("hash", "key_id", "signature")
EVENT_NAMESPACE = uuid.UUID("6f1c2e0a-7d4b-5b8e-9a51-3c7e2f4a9d10")

Role = Literal[
    "worker_rep",
    "group_member",
    "union_chair",
    "mediator",
    "followup_officer",
    "volunteer",
    "auditor",
    "admin",
    "system",
]


class Frozen(BaseModel):
    """Base for immutable contract models that reject unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Actor(Frozen):
    """Who did it: a user id, a role and a unit, never a name."""

    user_id: str = Field(min_length=1, max_length=128)
    role: Role
    unit: str = Field(min_length=1, max_length=256)


def utc(value: datetime) -> datetime:
    """Return an aware datetime normalised to UTC."""
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a timezone")
    return value.astimezone(UTC)


def format_ts(value: datetime) -> str:
    """Render a timestamp in the one canonical form hashed and stored."""
    return utc(value).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class Envelope(Frozen):
    """One immutable case event with its position in the case's hash chain."""

    event_id: uuid.UUID
    event_type: str = Field(pattern=r"^[a-z_]+\.[a-z_]+$")
    schema_version: int = Field(ge=1)
    case_id: str = Field(pattern=CASE_ID_PATTERN)
    case_version: int = Field(ge=1)
    occurred_at: AwareDatetime
    recorded_at: AwareDatetime
    actor: Actor
    correlation_id: str
    causation_id: str
    payload: dict[str, Any]
    prev_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    # Which service key signed the event, and the signature over its hash; events written
    # before signing existed carry neither, and neither is part of the hash.
    key_id: str | None = Field(default=None, max_length=128)
    signature: str | None = Field(default=None, max_length=128)

    @field_validator("occurred_at", "recorded_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return utc(value)

    def to_wire(self) -> dict[str, Any]:
        """Return the JSON-ready dict that is written to the log."""
        return wire_dict(self)

    def to_bytes(self) -> bytes:
        """Return the canonical bytes of the record value."""
        return canonical_bytes(self.to_wire())


def wire_dict(env: Envelope) -> dict[str, Any]:
    """Render an envelope with canonical timestamps and string ids."""
    data = env.model_dump(mode="json")
    for name in UNHASHED:
        if data.get(name) is None:
            data.pop(name, None)
    data["occurred_at"] = format_ts(env.occurred_at)
    data["recorded_at"] = format_ts(env.recorded_at)
    return data


def canonical_bytes(data: dict[str, Any]) -> bytes:
    """Serialise JSON deterministically: sorted keys, no spaces, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(data: dict[str, Any]) -> str:
    """Return the SHA-256 of an envelope's canonical JSON without its hash and signature."""
    body = {k: v for k, v in data.items() if k not in UNHASHED}
    return hashlib.sha256(canonical_bytes(body)).hexdigest()


def derive_event_id(command_id: str, index: int) -> uuid.UUID:
    """Derive an event id from the command that caused it, so a retry yields the same id."""
    return uuid.uuid5(EVENT_NAMESPACE, f"{command_id}/{index}")


def seal_envelope(
    *,
    event_type: str,
    schema_version: int,
    case_id: str,
    case_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    actor: Actor,
    correlation_id: str,
    causation_id: str,
    payload: dict[str, Any],
    prev_hash: str,
    event_id: uuid.UUID,
) -> Envelope:
    """Build an envelope and compute its chained hash."""
    draft: dict[str, Any] = {
        "event_id": str(event_id),
        "event_type": event_type,
        "schema_version": schema_version,
        "case_id": case_id,
        "case_version": case_version,
        "occurred_at": format_ts(occurred_at),
        "recorded_at": format_ts(recorded_at),
        "actor": actor.model_dump(mode="json"),
        "correlation_id": correlation_id,
        "causation_id": causation_id,
        "payload": payload,
        "prev_hash": prev_hash,
    }
    draft["hash"] = chain_hash(draft)
    return Envelope.model_validate(draft)


def parse_json(value: bytes) -> dict[str, Any]:
    """Parse a record value into its raw dict, nothing checked yet; raise ValueError if not one."""
    try:
        raw = json.loads(value)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(raw, dict):
        raise ValueError("not a JSON object")
    return raw


def parse_record(value: bytes) -> tuple[dict[str, Any], Envelope]:
    """Parse a record value into its raw dict and its envelope; raise ValueError if unreadable."""
    raw = parse_json(value)
    return raw, Envelope.model_validate(raw)


def now_utc() -> datetime:
    """Return the current UTC time (for adapters only; domain code never calls it)."""
    return datetime.now(UTC)
