"""Records taken in batches as they come: what arrived while the last batch was handled."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import faust
from mode.utils.locks import Event


async def as_they_come(
    stream: faust.StreamT[bytes], most: int, within: float = 0.0
) -> AsyncIterator[list[Any]]:
    """Yield the stream's events in batches of at most `most`, each as soon as one is there.

    A batch holds every event that arrived while the one before was handled, so batches
    grow with the load and a lone record waits for nothing; `within` may hold a batch
    that long after its first event to gather more. Events are acknowledged only once
    the batch they came in has been handled, so a crash redelivers them.
    """
    taken = stream if isinstance(stream, faust.Stream) else None
    if taken is None:
        raise TypeError("batches are taken from a stream of the stream processor")
    events: list[Any] = []
    arrived, full, room = Event(), Event(), Event()
    room.set()

    async def add(value: bytes) -> bytes:
        # Past `most` the stream waits for the batch to be taken: no batch grows past it.
        while len(events) >= most:
            room.clear()
            await room.wait()
        event = taken.current_event
        if event is None:
            raise RuntimeError("a record reached the batch without its event")
        events.append(event)
        arrived.set()
        if len(events) >= most:
            full.set()
        return value

    acks = taken.enable_acks
    # The batch acknowledges its events itself, once they are handled.
    taken.enable_acks = False
    taken.add_processor(add)
    channel: Any = taken.channel
    taken._enable_passive(aiter(channel))
    try:
        while not taken.should_stop:
            if await taken.wait_for_stopped(arrived):
                break
            if within > 0 and not full.is_set():
                await taken.wait_for_stopped(full, timeout=within)
            batch, events[:] = list(events), []
            arrived.clear()
            full.clear()
            room.set()
            if not batch:
                continue
            try:
                yield batch
            finally:
                for event in batch:
                    await taken.ack(event)
    finally:
        taken.enable_acks = acks
        taken._processors.remove(add)
