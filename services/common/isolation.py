"""Setting one case aside: what failed and where, and the mark a reader keeps of it. Pure."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# The one key of a reader's memory of a case once it is quarantined.
QUARANTINED = "quarantined"
# The one key of a case head kept as unreadable (or not believed), with why.
UNREADABLE = "unreadable"


def reason_of(exc: BaseException) -> str:
    """Say what failed and where in the code, from the error's first line only.

    Later lines of a validation error quote the input, which may be a person's words.
    """
    lines = str(exc).splitlines()
    text = f"{type(exc).__name__}: {lines[0][:300]}" if lines else type(exc).__name__
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return text
    last = frames[-1]
    where = Path(last.filename)
    shown = where.relative_to(ROOT) if where.is_relative_to(ROOT) else Path(where.name)
    return f"{text} (at {shown}:{last.lineno} in {last.name})"


def position(topic: str, partition: int, offset: int) -> str:
    """Name a record's place in the log as the audit does: topic/partition@offset."""
    return f"{topic}/{partition}@{offset}"


def quarantine_mark(reason: str, where: str) -> dict[str, Any]:
    """What a reader remembers of a case it set aside: the first failure and its place."""
    return {QUARANTINED: {"reason": reason, "position": where}}


def quarantined_since(stored: Any) -> str | None:
    """Return the first failure a remembered case was set aside for, or None if it was not."""
    if not isinstance(stored, dict) or set(stored) != {QUARANTINED}:
        return None
    first = stored[QUARANTINED]
    return f"quarantined since {first.get('position')}: {first.get('reason')}"
