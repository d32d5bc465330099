"""Where a worker starts a partition it has no committed place in: at its first record, always."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping
from typing import Any

import faust
from faust.types import TP

from services.common import logging as logs
from services.common.wrapping import wrap_once

log = logs.get(__name__)
SeekToCommitted = Callable[[], Awaitable[Mapping[TP, int]]]


def unplaced(
    assigned: Iterable[TP], committed: Mapping[Any, int | None], changelogs: Collection[str]
) -> list[TP]:
    """The stream partitions assigned whose committed place is none, or the very start."""
    return sorted(tp for tp in assigned if tp.topic not in changelogs and not committed.get(tp))


def start_unplaced_from_the_beginning(app: faust.App) -> None:
    """Have the app's seek to its committed places move its unplaced partitions to their start.

    While a worker restores its tables after a rebalance, records it has already fetched
    for its other partitions can be set aside unread, and its reading position moves past
    them. The seek to the committed places that follows puts that right, but the stream
    processor skips a partition whose committed place is 0 or none: a new group, or one
    moved back to the start, would never read those records. So those partitions are
    sought to their first offset too; records read twice this way are answered again,
    which every consumer of the ledger takes as a repeat.
    """
    consumer = app.consumer

    def wrap(original: SeekToCommitted) -> SeekToCommitted:
        async def seek_to_committed() -> Mapping[TP, int]:
            committed = await original()
            fresh = unplaced(consumer.assignment(), committed, app.tables.changelog_topics)
            if fresh:
                first = await consumer.earliest_offsets(*fresh)
                await consumer.seek_wait({tp: first.get(tp, 0) for tp in fresh})
                log.info("partitions.started_at_first_record", partitions=len(fresh))
            return committed

        return seek_to_committed

    # The consumer is the stream processor's own; only this method of it is wrapped.
    wrap_once(consumer, "seek_to_committed", wrap)
