"""Which of another service's events a reader keeps something of; the rest it passes over."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from contracts.envelope import Envelope
from contracts.registry import EventPayload
from services.common.store import Db

# What a read model does with another service's event it reads.
ForeignHook = Callable[[Db, Envelope, EventPayload], None]


def type_names(types: Collection[type[EventPayload]]) -> frozenset[str]:
    """The event types these payloads are recorded under."""
    return frozenset(str(t.event_type) for t in types)


def passed_over(raw: dict[str, Any], reads: frozenset[str]) -> bool:
    """Whether a parsed record is of a type its reader does not read; an empty set reads all.

    Such a record changes nothing for that reader, so it is not checked there either.
    """
    return bool(reads) and raw.get("event_type") not in reads


@dataclass(frozen=True)
class Foreign:
    """What a read model keeps of another service's events: its hook and the types it reads."""

    hook: ForeignHook
    reads: frozenset[str] = frozenset()

    @classmethod
    def reading(cls, hook: ForeignHook, *types: type[EventPayload]) -> Foreign:
        """The hook, told only of events of these types."""
        return cls(hook, type_names(types))
