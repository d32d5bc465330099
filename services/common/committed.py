"""A worker's stream reader sees only what the ledger committed, never an aborted write."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import faust

from services.common.wrapping import wrap_once

COMMITTED = "read_committed"


def read_committed_only(app: faust.App) -> None:
    """Have the app's stream reader skip the records of aborted or still-open transactions.

    Deciders write a case's events and heads in one transaction, and abort it when fenced
    or when the broker refuses it. The stream processor reads committed records only when
    it runs transactions of its own, which these workers do not: without this a reactor
    could act on an event the ledger never recorded, and a worker restore a case's head
    from a write that was undone.
    """
    thread: Any = getattr(app.consumer, "_thread")  # noqa: B009

    def wrap(original: Callable[[Any], Any]) -> Callable[[Any], Any]:
        def create(transport: Any) -> Any:
            consumer = original(transport)
            # Read when the reader starts and builds its fetcher; it has not started yet.
            consumer._isolation_level = COMMITTED
            return consumer

        return create

    # The reader thread is the stream processor's own; only how it builds its client is wrapped.
    wrap_once(thread, "_create_worker_consumer", wrap)
