"""Where a worker's committed place moves to in a partition a decider writes: past its markers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import faust

from services.common.wrapping import wrap_once

AddGap = Callable[[Any, int, int], Awaitable[None]]


def skipped(offset_from: int, revealed_at: int) -> tuple[int, int]:
    """The offsets a reader never sees between two records (first, last), the later one excluded."""
    return offset_from, revealed_at - 1


def commit_past_markers(app: faust.App) -> None:
    """Have the app's stream reader count only the offsets it never sees as a gap.

    Every transaction a decider commits ends with a marker the reader never receives, so
    each leaves an offset out between two records. The stream processor notes such a gap
    with the offset of the record after it included, which it also counts once that record
    is answered: counted twice, it stops the committed place at every transaction, which
    then moves on by one transaction per commit. A worker restarted then reads again, and
    answers as repeats, thousands of records it had answered long before.
    """

    def wrap(original: AddGap) -> AddGap:
        async def add_gap(tp: Any, offset_from: int, offset_to: int) -> None:
            await original(tp, *skipped(offset_from, offset_to))

        return add_gap

    # The consumer is the stream processor's own; only how it notes a gap is wrapped.
    wrap_once(app.consumer, "_add_gap", wrap)
