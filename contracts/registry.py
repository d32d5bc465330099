"""Registry of event payload types by stable name and version, with upcasters for old versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from contracts.envelope import Envelope, Frozen

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
P = TypeVar("P", bound="EventPayload")


class EventPayload(Frozen):
    """Base of every event body; subclasses name their type and current schema version."""

    event_type: ClassVar[str]
    schema_version: ClassVar[int] = 1


class UnknownEventType(ValueError):
    """Raised when a record names an event type nobody registered."""


class Registry:
    """Maps `event_type` to its current payload model and chains upcasters on read."""

    def __init__(self) -> None:
        self._models: dict[str, type[EventPayload]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, model: type[P]) -> type[P]:
        """Register a payload model under its event type (usable as a decorator)."""
        if model.event_type in self._models:
            raise ValueError(f"event type {model.event_type} registered twice")
        self._models[model.event_type] = model
        return model

    def upcaster(self, event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a function that lifts a payload from `from_version` to the next version."""

        def wrap(fn: Upcaster) -> Upcaster:
            self._upcasters[(event_type, from_version)] = fn
            return fn

        return wrap

    def model(self, event_type: str) -> type[EventPayload]:
        """Return the current payload model of an event type."""
        try:
            return self._models[event_type]
        except KeyError:
            raise UnknownEventType(f"unknown event type {event_type!r}") from None

    def types(self) -> dict[str, type[EventPayload]]:
        """Return every registered event type and its model."""
        return dict(self._models)

    def upcast(self, event_type: str, version: int, payload: dict[str, Any]) -> dict[str, Any]:
        """Lift a stored payload step by step to the current schema version."""
        target = self.model(event_type).schema_version
        if version > target:
            raise ValueError(f"{event_type} v{version} is newer than this reader (v{target})")
        data = payload
        while version < target:
            step = self._upcasters.get((event_type, version))
            if step is None:
                raise ValueError(f"no upcaster for {event_type} v{version}")
            data = step(dict(data))
            version += 1
        return data

    def read(self, env: Envelope) -> EventPayload:
        """Return the typed, upcast payload of an envelope."""
        data = self.upcast(env.event_type, env.schema_version, env.payload)
        return self.model(env.event_type).model_validate(data)


REGISTRY = Registry()


def payload_dict(payload: BaseModel) -> dict[str, Any]:
    """Render a payload as the JSON dict stored in the envelope."""
    return payload.model_dump(mode="json", exclude_none=False)
