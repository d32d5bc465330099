"""A part's heap settled after start: kept out of collections, still freed when dropped."""

from __future__ import annotations

import gc
import weakref

from services.common import heap


class Held:
    """Something a part built while starting."""


def test_what_was_built_to_start_is_set_aside_and_still_freed_when_dropped() -> None:
    built = Held()
    gone = weakref.ref(built)
    try:
        held = heap.settle("test")
        assert held == gc.get_freeze_count() > 0
        del built
        assert gone() is None
    finally:
        gc.unfreeze()
