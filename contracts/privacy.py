"""Erasure of a worker's personal data (PIPL Art. 47), told to every process by an event."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, Field, field_validator

from contracts.envelope import Actor, Frozen, utc

# The grounds PIPL Art. 47 gives for deleting personal information; no free text, so the
# record of an erasure can never itself hold what was erased.
ErasureReason = Literal[
    "worker_request",
    "purpose_achieved",
    "retention_expired",
    "consent_withdrawn",
    "unlawful_processing",
    "service_ended",
]
KEY_ID = r"^(PER|CASE)-[0-9A-Za-z_-]{4,64}$"


class PersonErased(Frozen):
    """A person's data key was destroyed: who asked, when, why and which key; nothing personal."""

    event_type: Literal["person.erased"] = "person.erased"
    schema_version: Literal[1] = 1
    erasure_id: uuid.UUID
    # The key destroyed: a person's id, or an anonymous case's own key.
    key_id: str = Field(pattern=KEY_ID)
    erased_at: AwareDatetime
    actor: Actor
    reason: ErasureReason

    @field_validator("erased_at")
    @classmethod
    def _to_utc(cls, value: datetime) -> datetime:
        return utc(value)
