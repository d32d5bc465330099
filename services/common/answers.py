"""The commands a case has answered, remembered within a bound of count and age.

A case remembers each command it decided, so a redelivery or a retry is answered again
rather than decided again. The memory is bounded: only the newest commands, and none
issued long before the latest. Whatever is forgotten raises a mark, the latest time any
forgotten command was issued; a command not remembered and issued no later than that mark
may be one decided before, so it is refused rather than decided a second time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

# Enough for the busiest case's retries; a head stays a few tens of kilobytes at most.
MAX_ANSWERED = 256
# Far beyond any retry of a caller and any redelivery of the commands topic.
MAX_AGE = timedelta(days=30)

Answer = tuple[str, dict[str, Any]]


@dataclass(frozen=True)
class Memory:
    """What a case remembers of the commands it answered, and the mark of what it forgot."""

    answered: dict[str, Answer]
    issued: dict[str, datetime]
    forgotten: datetime | None


def remember(
    memory: Memory,
    command_id: str,
    answer: Answer,
    at: datetime,
    *,
    most: int = MAX_ANSWERED,
    age: timedelta = MAX_AGE,
) -> Memory:
    """Return the memory with one more command answered at `at`, cut back to its bound."""
    answered = {c: a for c, a in memory.answered.items() if c != command_id}
    answered[command_id] = answer
    issued = {c: t for c, t in memory.issued.items() if c in answered}
    issued[command_id] = at
    horizon = at - age
    dropped = [c for c in answered if c != command_id and c in issued and issued[c] < horizon]
    keep = [c for c in answered if c not in dropped]
    dropped += keep[: max(0, len(keep) - most)]
    forgotten = memory.forgotten
    for c in dropped:
        # A command remembered from before issue times were kept is taken as issued now:
        # the mark may then refuse a late newcomer, but never decides anything twice.
        when = issued.pop(c, at)
        del answered[c]
        forgotten = when if forgotten is None or when > forgotten else forgotten
    return Memory(answered, issued, forgotten)


def may_be_forgotten(memory: Memory, command_id: str, issued_at: datetime) -> bool:
    """Whether a command not remembered may have been answered before and forgotten since."""
    if command_id in memory.answered or memory.forgotten is None:
        return False
    return issued_at <= memory.forgotten
