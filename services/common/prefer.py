"""What a caller prefers a command's answer to wait for (an RFC 7240 `Prefer` header)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Header

PREFER_HEADER = "Prefer"
APPLIED_HEADER = "Preference-Applied"
# Answer once the decision's events are durable on the log, not once this API's read model
# shows them: the caller who reads the case straight after waits for it by default.
DECIDED = "wait-for=decision"
PreferHeader = Annotated[
    str | None,
    Header(
        alias=PREFER_HEADER,
        max_length=256,
        description=(
            f"`{DECIDED}`: answer as soon as the decision is durable on the log, before this"
            " service's reads show it; without it the answer waits until they do"
            " (read-your-writes)"
        ),
    ),
]


def waits_for_reads(prefer: str | None) -> bool:
    """Whether the answer waits until the read model shows the decision (unless asked not to)."""
    if not prefer:
        return True
    asked = {
        p.strip().lower().replace(" ", "") for item in prefer.split(",") for p in item.split(";")
    }
    return DECIDED not in asked
