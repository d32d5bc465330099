"""Registry of event payload types by stable name and version, with upcasters for old versions."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar

from pydantic import BaseModel

from contracts.catalog import STREAMS
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
        self._loaded: set[str] = set()
        self._loading = threading.Lock()

    def load(self, stream: str) -> None:
        """Register a stream's event models (its module under contracts), once."""
        if stream in self._loaded or stream not in STREAMS:
            return
        with self._loading:
            if stream not in self._loaded:
                importlib.import_module(f"contracts.{stream}")
                self._loaded.add(stream)

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
        model = self._models.get(event_type)
        if model is None:
            # Every event type is named `<stream>.<what happened>`.
            self.load(event_type.partition(".")[0])
            model = self._models.get(event_type)
        if model is None:
            raise UnknownEventType(f"unknown event type {event_type!r}")
        return model

    def types(self) -> dict[str, type[EventPayload]]:
        """Return every event type of every stream and its model."""
        for stream in STREAMS:
            self.load(stream)
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
