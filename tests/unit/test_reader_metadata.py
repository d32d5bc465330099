"""A plain reader asks for metadata at its own pace and always learns where it stands."""

from __future__ import annotations

import time

import pytest
from kafka import TopicPartition
from kafka.cluster import ClusterMetadata
from kafka.errors import KafkaConnectionError, KafkaTimeoutError, TopicAuthorizationFailedError

from services.common import kafka as kafka_kit
from services.common import offsets


def test_the_cluster_waits_what_it_is_configured_to_after_a_refresh() -> None:
    cluster = ClusterMetadata()
    cluster._last_refresh_ms = time.monotonic() * 1000
    assert cluster.ttl() > kafka_kit.READER_RETRY_MS
    cluster.config["retry_backoff_ms"] = kafka_kit.READER_RETRY_MS
    assert cluster.ttl() <= kafka_kit.READER_RETRY_MS


class Answers:
    """A reader whose position answers are given in advance: offsets, None or errors."""

    def __init__(self, *answers: int | Exception | None) -> None:
        self.answers = list(answers)
        self.asked = 0

    def position(self, tp: TopicPartition, timeout_ms: int | None = None) -> int | None:
        self.asked += 1
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer


TP = TopicPartition("grievance.events", 3)


def test_a_position_not_yet_known_is_asked_for_again() -> None:
    reader = Answers(None, KafkaConnectionError("gone"), None, 42)
    assert offsets.position(reader, TP) == 42
    assert reader.asked == 4


def test_a_position_that_never_comes_is_a_broker_error_not_a_none() -> None:
    reader = Answers()
    with pytest.raises(KafkaTimeoutError, match=r"grievance\.events/3"):
        offsets.position(reader, TP, wait_s=0.05)
    assert reader.asked > 1


def test_a_refusal_that_asking_again_cannot_mend_is_raised_at_once() -> None:
    reader = Answers(TopicAuthorizationFailedError("not yours"), 7)
    with pytest.raises(TopicAuthorizationFailedError):
        offsets.position(reader, TP)
    assert reader.asked == 1


class Ends:
    """A reader whose end offsets answers are given in advance: dicts or errors."""

    def __init__(self, *answers: dict[TopicPartition, int] | Exception) -> None:
        self.answers = list(answers)
        self.asked = 0

    def end_offsets(
        self, parts: list[TopicPartition], timeout_ms: int | None = None
    ) -> dict[TopicPartition, int]:
        self.asked += 1
        answer = self.answers.pop(0) if self.answers else KeyError(parts[-1])
        if isinstance(answer, Exception):
            raise answer
        return answer


OTHER = TopicPartition("grievance.events", 4)


def test_ends_are_asked_for_again_until_every_leader_is_known() -> None:
    reader = Ends(KeyError(OTHER), {TP: 3}, {TP: 3, OTHER: 9})
    assert offsets.end_offsets(reader, [TP, OTHER]) == {TP: 3, OTHER: 9}
    assert reader.asked == 3


def test_ends_that_never_come_are_a_broker_error_not_a_key_error() -> None:
    reader = Ends()
    with pytest.raises(KafkaTimeoutError, match="no leader known"):
        offsets.end_offsets(reader, [TP, OTHER], wait_s=0.05)
