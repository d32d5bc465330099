"""Personal data as it appears in events: sealed with a per-person key, never in the clear."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from contracts.envelope import Frozen

ERASED = "[erased]"


class Sealed(Frozen):
    """A value encrypted with AES-GCM under the data key named by `kid`."""

    kid: str = Field(pattern=r"^(PER|CASE)-[0-9A-Za-z_-]{4,64}$")
    nonce: str = Field(min_length=16, max_length=32)
    ct: str = Field(min_length=1, max_length=65536)


class SealedPerson(Frozen):
    """A worker's identity: a pseudonymous person id and their sealed name and phone."""

    person_id: str = Field(pattern=r"^PER-[0-9A-Za-z_-]{4,64}$")
    name: Sealed
    phone: Sealed | None = None


# Free text in an event: sealed in the versions that seal it. Records written before keep
# the text exactly as it was written, for history is never rewritten; readers take either.
SealedText = Sealed | Annotated[str, Field(min_length=1, max_length=4000)]


def as_written(payload: dict[str, Any]) -> dict[str, Any]:
    """Lift a payload whose free text was written in clear: the text stays as it was."""
    return payload
