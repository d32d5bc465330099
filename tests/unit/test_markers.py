"""A worker's committed place passes the transaction markers between a decider's records."""

from __future__ import annotations

import asyncio
from typing import Any

import faust
from faust.types import TP

from services.common.markers import commit_past_markers, skipped

TOPIC = TP("grievance.events", 0)


def committed_after(wrapped: bool) -> tuple[int | None, list[int]]:
    """Read three transactions (records 0-4, 6-9, 11-12, markers at 5 and 10) and answer all."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    app = faust.App("markers-test", broker="kafka://127.0.0.1:1", loop=loop)
    consumer: Any = app.consumer
    if wrapped:
        commit_past_markers(app)
        commit_past_markers(app)

    async def read() -> None:
        last: int | None = None
        for offset in [0, 1, 2, 3, 4, 6, 7, 8, 9, 11, 12]:
            if last is not None and offset - last > 1:
                # As the reader does on a record that follows offsets it never saw.
                await consumer._add_gap(TOPIC, last + 1, offset)
            consumer._acked[TOPIC].append(offset)
            consumer._acked_index[TOPIC].add(offset)
            last = offset

    try:
        loop.run_until_complete(read())
    finally:
        asyncio.set_event_loop(None)
        # The reader thread's loop was made with the consumer; the thread itself never ran.
        consumer._thread.thread_loop.close()
        loop.close()
    return consumer._new_offset(TOPIC), consumer._acked[TOPIC]


def test_the_place_moves_past_every_marker_in_one_commit() -> None:
    offset, left = committed_after(wrapped=True)
    assert offset == 13
    assert left == []


def test_without_it_the_place_stops_at_the_first_marker() -> None:
    # What the stream processor does on its own; if this fails, it has been put right there.
    offset, left = committed_after(wrapped=False)
    assert offset == 7
    assert left


def test_the_gap_leaves_out_the_record_that_revealed_it() -> None:
    assert skipped(5, 6) == (5, 5)
    assert skipped(10, 14) == (10, 13)
