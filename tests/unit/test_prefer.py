"""A caller's preference of what a command's answer waits for: the read model unless told."""

from __future__ import annotations

import pytest

from services.common.prefer import waits_for_reads


@pytest.mark.parametrize(
    "prefer",
    [None, "", "wait-for=read-model", "return=minimal", "wait=10", "wait-for=decisions"],
)
def test_the_answer_waits_for_the_read_model_unless_asked_not_to(prefer: str | None) -> None:
    assert waits_for_reads(prefer)


@pytest.mark.parametrize(
    "prefer",
    [
        "wait-for=decision",
        "Wait-For=Decision",
        "return=minimal, wait-for=decision",
        "a; wait-for = decision",
    ],
)
def test_a_caller_may_be_answered_once_the_decision_is_durable(prefer: str) -> None:
    assert not waits_for_reads(prefer)
