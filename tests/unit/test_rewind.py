"""Which partitions a worker starts at their first record after a rebalance."""

from __future__ import annotations

from aiokafka import TopicPartition
from faust.types import TP

from services.common.rewind import unplaced

CHANGELOG = "t.taizhang-notify-memory-changelog"


def test_a_partition_placed_at_zero_or_not_at_all_starts_at_its_first_record() -> None:
    assigned = {
        TP("t.grievance.events", 0),
        TP("t.grievance.events", 1),
        TP("t.grievance.events", 2),
        TP("t.notification.commands", 0),
    }
    # The committed places come back keyed by the client's own partition type.
    committed = {
        TopicPartition("t.grievance.events", 0): 0,
        TopicPartition("t.grievance.events", 1): 7,
        TopicPartition("t.grievance.events", 2): None,
    }
    assert unplaced(assigned, committed, {CHANGELOG}) == [
        TP("t.grievance.events", 0),
        TP("t.grievance.events", 2),
        TP("t.notification.commands", 0),
    ]


def test_a_changelog_is_left_to_the_table_restore() -> None:
    assert unplaced({TP(CHANGELOG, 0)}, {}, {CHANGELOG}) == []
