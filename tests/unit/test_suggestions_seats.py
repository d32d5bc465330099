"""Who votes in a review, told as stories: the group convenes it, replacements reach its seats."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

import pytest

from contracts.commands import CommandEnvelope
from contracts.envelope import Envelope
from contracts.registry import REGISTRY
from services.common.decider import Outcome, process
from services.common.ids import reaction_command_id
from services.suggestions import domain, policies
from services.suggestions.policies import GroupSeats, OpenSeats, Replacement
from services.suggestions.service import GROUP_KIND, KIND
from tests.unit.stories import T0, Story, command
from tests.unit.suggestion_stories import (
    CHAIR,
    GROUP_ID,
    MEMBERS,
    REP,
    UNIT,
    form,
    member,
    ok,
    submission,
)

SUG = "SUG-TEST00000001"
OTHER = "SUG-TEST00000002"
NOW = T0 + timedelta(days=1)


def group() -> Story[domain.Group]:
    story = Story(GROUP_KIND, GROUP_ID)
    ok(story.when("form", form(), actor=CHAIR))
    return story


def replaced(story: Story[domain.Group], outgoing: str, incoming: str) -> Envelope:
    body = {"outgoing": outgoing, "incoming": incoming, "congress_session": "补选"}
    ok(story.when("replace_member", body, actor=CHAIR))
    last: Envelope = story.events[-1]
    return last


def suggestion(case_id: str = SUG) -> Story[domain.Suggestion]:
    story = Story(KIND, case_id)
    ok(story.when("submit", submission(), actor=REP))
    return story


def seats(story: Story[domain.Suggestion]) -> tuple[str, ...]:
    """Who sits in the suggestion's review."""
    review = story.state().review
    assert review is not None, f"{story.case_id} has no review"
    return review.members


def convene(
    story: Story[domain.Group],
    suggestion_id: str,
    *,
    at: datetime,
    actor: Any = CHAIR,
    meeting: int = 1,
    **over: Any,
) -> Outcome:
    """The group takes the command the open-review route sends, correlated with the suggestion."""
    payload = {"suggestion_id": suggestion_id, "meeting": "11月例会", "unit": UNIT, **over}
    meta = command(
        GROUP_ID,
        "convene_review",
        payload,
        actor=actor,
        at=at,
        command_id=f"convene-{suggestion_id}-{meeting}",
        fingerprint="fp-convene",
    )
    return process(KIND, story.head, meta.model_copy(update={"correlation_id": suggestion_id}))


def deliver(story: Story[Any], meta: CommandEnvelope) -> Outcome:
    """The suggestion's decider takes a command handed on to it."""
    outcome = process(KIND, story.head, meta)
    story.head = outcome.head
    story.events += outcome.events
    return outcome


def opened(story: Story[domain.Suggestion], meta: CommandEnvelope) -> Envelope:
    ok(deliver(story, meta))
    last: Envelope = story.events[-1]
    return last


def reviewed(
    group_story: Story[domain.Group], sug: Story[domain.Suggestion], at: datetime, meeting: int = 1
) -> Envelope:
    """The group convenes a review at `at`; the group's next event comes after it."""
    outcome = convene(group_story, sug.case_id, at=at, meeting=meeting)
    assert outcome.forward is not None
    group_story.clock = max(group_story.clock, at)
    return opened(sug, outcome.forward)


def see(memory: GroupSeats | None, env: Envelope) -> tuple[GroupSeats | None, list[Any]]:
    """The reactor takes one event filed under the group."""
    return policies.hand_over_seats(memory, env, REGISTRY.read(env), NOW)


def seen(*events: Envelope) -> tuple[GroupSeats | None, list[Any]]:
    memory: GroupSeats | None = None
    sent: list[Any] = []
    for env in events:
        memory, commands = see(memory, env)
        sent += commands
    return memory, sent


def hand_overs(commands: list[Any]) -> list[tuple[str, str, str]]:
    return [
        (meta.case_id, meta.payload["outgoing"], meta.payload["incoming"]) for _, meta in commands
    ]


# --- the group convenes a review --------------------------------------------------------


def test_only_the_group_convenes_a_review_and_others_learn_nothing_of_it() -> None:
    rep = convene(Story(GROUP_KIND, GROUP_ID), SUG, at=NOW, actor=REP)
    assert rep.reply.refusal is not None and rep.reply.refusal.status == 403
    chair = convene(Story(GROUP_KIND, GROUP_ID), SUG, at=NOW, actor=CHAIR)
    assert chair.reply.refusal is not None and chair.reply.refusal.status == 409


def test_the_group_hands_the_review_on_with_the_members_sitting_at_the_meeting() -> None:
    story = group()
    before = story.clock + timedelta(seconds=30)
    replaced(story, "m7", "m8")
    outcome = convene(story, SUG, at=before, expected_version=1)
    assert outcome.events == [] and outcome.head == story.head
    forward = outcome.forward
    assert forward is not None
    assert (forward.case_id, forward.command_type, forward.expected_version) == (
        SUG,
        "open_review",
        1,
    )
    assert forward.payload == {"group_id": GROUP_ID, "meeting": "11月例会", "members": MEMBERS}
    later = convene(story, SUG, at=story.clock + timedelta(minutes=1)).forward
    assert later is not None and later.payload["members"] == [*MEMBERS[:6], "m8"]


def test_the_handed_on_command_keeps_everything_that_identifies_the_request() -> None:
    story = group()
    meta = command(
        GROUP_ID,
        "convene_review",
        {"suggestion_id": SUG, "meeting": "m"},
        actor=CHAIR,
        at=story.clock,
        fingerprint="fp-1",
    )
    forward = process(KIND, story.head, meta).forward
    assert forward is not None
    kept = ("command_id", "fingerprint", "actor", "issued_at", "occurred_at", "reply")
    assert all(getattr(forward, f) == getattr(meta, f) for f in kept)
    assert (forward.correlation_id, forward.causation_id) == (meta.correlation_id, "test")


def test_a_review_without_a_group_is_refused_naming_the_unit() -> None:
    outcome = convene(Story(GROUP_KIND, GROUP_ID), SUG, at=T0)
    assert outcome.forward is None and outcome.reply.refusal is not None
    refusal = outcome.reply.refusal
    assert (refusal.status, refusal.title) == (409, "No group")
    assert refusal.detail == f"{UNIT} has no democratic-management group; form it first"


def test_a_review_at_a_moment_before_the_group_sat_is_refused() -> None:
    story = group()
    outcome = convene(story, SUG, at=T0 - timedelta(days=1))
    assert outcome.reply.refusal is not None
    assert outcome.reply.refusal.title == "No group"
    assert outcome.reply.refusal.detail.startswith(f"no group of {UNIT} sat at 2026-11-22")


def test_the_suggestion_opens_the_review_and_answers_a_redelivery_from_memory() -> None:
    story, sug = group(), suggestion()
    outcome = convene(story, SUG, at=sug.clock + timedelta(minutes=1))
    assert outcome.forward is not None
    first = deliver(sug, outcome.forward)
    assert sug.then_types(first) == ["suggestion.review_opened"]
    assert first.reply.command_id == outcome.forward.command_id and first.reply.case_id == SUG
    replaced(story, "m7", "m8")
    # Redelivered after a replacement, the group hands on other members; the answer stands.
    again = convene(story, SUG, at=sug.clock + timedelta(minutes=1))
    assert again.forward is not None and "m8" in again.forward.payload["members"]
    retry = deliver(sug, again.forward)
    assert retry.events == [] and retry.reply == first.reply
    assert seats(sug) == tuple(MEMBERS)


def test_the_suggestion_keeps_its_own_rules_for_a_handed_on_review() -> None:
    story, sug = group(), suggestion()
    # The group refuses a rep itself; handed on anyway, the suggestion refuses the rep too.
    assert convene(story, SUG, at=sug.clock, actor=REP).forward is None
    by_chair = convene(story, SUG, at=sug.clock).forward
    assert by_chair is not None
    status, _ = sug.refusal(deliver(sug, by_chair.model_copy(update={"actor": REP})))
    assert status == 403
    stale = convene(story, SUG, at=sug.clock, expected_version=0).forward
    assert stale is not None
    status, detail = sug.refusal(deliver(sug, stale))
    assert status == 409 and "at version 1, not 0" in detail


# --- where a review stands in its group's history ---------------------------------------


def test_a_replacement_reaches_a_review_it_happened_or_was_recorded_after() -> None:
    meeting = OpenSeats(
        suggestion_id=SUG, opened_version=2, met_at=T0, opened_at=T0, correlation_id=SUG
    )
    hour = timedelta(hours=1)

    def replacement(occurred: datetime, recorded: datetime) -> Replacement:
        return Replacement(
            event_id="r", outgoing="a", incoming="b", occurred_at=occurred, recorded_at=recorded
        )

    assert policies.reaches(replacement(T0 + hour, T0 + hour), meeting)
    assert not policies.reaches(replacement(T0 - hour, T0 - hour), meeting)
    assert not policies.reaches(replacement(T0, T0), meeting)  # sat at the meeting already
    # Recorded after the review opened, though dated before the meeting: not among the voters.
    assert policies.reaches(replacement(T0 - hour, T0 + hour), meeting)
    # Recorded before a review opened for an earlier meeting: it happened after that meeting.
    late = meeting.model_copy(update={"met_at": T0 - 2 * hour})
    assert policies.reaches(replacement(T0 - hour, T0 - hour), late)


def test_events_are_filed_under_the_group_until_the_review_closes() -> None:
    story, sug = group(), suggestion()
    formed = story.events[0]
    opening = reviewed(story, sug, sug.clock + timedelta(minutes=1))
    ok(sug.when("close_vote", actor=CHAIR))
    closed = sug.events[-1]
    submitted = sug.events[0]

    def file(filed: str | None, env: Envelope) -> tuple[str | None, str | None]:
        return policies.file_by_group(filed, env, REGISTRY.read(env))

    assert file(None, formed) == (GROUP_ID, None)
    assert file(None, submitted) == (None, None)
    assert file(None, opening) == (GROUP_ID, GROUP_ID)
    assert file(GROUP_ID, closed) == (GROUP_ID, None)


def test_a_replacement_during_a_review_hands_the_seat_over() -> None:
    story, sug = group(), suggestion()
    opening = reviewed(story, sug, sug.clock + timedelta(minutes=1))
    replacement = replaced(story, "m7", "m8")
    _, sent = seen(story.events[0], opening, replacement)
    assert hand_overs(sent) == [(SUG, "m7", "m8")]
    stream, meta = sent[0]
    assert stream == "suggestion" and meta.actor.role == "system"
    assert meta.command_id == reaction_command_id(str(replacement.event_id), "hand_over_seat", SUG)
    assert meta.causation_id == str(replacement.event_id) and meta.correlation_id == SUG


def test_a_replacement_seen_before_the_review_it_followed_still_reaches_it() -> None:
    story, sug = group(), suggestion()
    opening = reviewed(story, sug, sug.clock + timedelta(minutes=1))
    replacement = replaced(story, "m7", "m8")
    _, sent = seen(story.events[0], replacement, opening)
    assert hand_overs(sent) == [(SUG, "m7", "m8")]


def test_a_replacement_before_the_review_opened_is_not_handed_over() -> None:
    story, sug = group(), suggestion()
    replacement = replaced(story, "m7", "m8")
    opening = reviewed(story, sug, story.clock + timedelta(minutes=1))
    assert "m8" in REGISTRY.read(opening).model_dump()["members"]
    for order in ([story.events[0], replacement, opening], [opening, replacement, story.events[0]]):
        _, sent = seen(*order)
        assert sent == []


def test_replacements_reach_every_open_review_in_their_order() -> None:
    story, first, second = group(), suggestion(SUG), suggestion(OTHER)
    one = reviewed(story, first, first.clock + timedelta(minutes=1))
    two = reviewed(story, second, second.clock + timedelta(minutes=1))
    r1, r2 = replaced(story, "m7", "m8"), replaced(story, "m8", "m9")
    _, sent = seen(story.events[0], one, r1, r2, two)
    assert hand_overs(sent) == [
        (SUG, "m7", "m8"),
        (SUG, "m8", "m9"),
        (OTHER, "m7", "m8"),
        (OTHER, "m8", "m9"),
    ]
    for sug, case_id in ((first, SUG), (second, OTHER)):
        for _, meta in [c for c in sent if c[1].case_id == case_id]:
            ok(deliver(sug, meta))
        assert seats(sug) == (*MEMBERS[:6], "m9")


def test_a_handed_over_seat_carries_the_outgoing_members_vote() -> None:
    story, sug = group(), suggestion()
    opening = reviewed(story, sug, sug.clock + timedelta(minutes=1))
    ok(sug.when("cast_vote", {"member": "m7", "vote": "for"}, actor=member("m7")))
    _, sent = seen(story.events[0], opening, replaced(story, "m7", "m8"))
    ok(deliver(sug, sent[0][1]))
    assert sug.state().votes == {"m8": "for"}
    # Sent again (a redelivered event), it is answered, not decided again.
    assert deliver(sug, sent[0][1]).events == []


def test_repeated_events_send_nothing_twice() -> None:
    story, sug = group(), suggestion()
    opening = reviewed(story, sug, sug.clock + timedelta(minutes=1))
    replacement = replaced(story, "m7", "m8")
    _, sent = seen(story.events[0], opening, replacement, replacement, opening, story.events[0])
    assert hand_overs(sent) == [(SUG, "m7", "m8")]


def test_a_closed_review_is_forgotten_and_an_old_close_leaves_a_new_review_alone() -> None:
    story, sug = group(), suggestion()
    first = reviewed(story, sug, sug.clock + timedelta(minutes=1))
    ok(sug.when("close_vote", actor=CHAIR))
    closed = sug.events[-1]
    memory, _ = seen(story.events[0], first, closed)
    assert memory is not None and memory.reviews == {}
    second = reviewed(story, sug, sug.clock + timedelta(minutes=1), meeting=2)
    memory, _ = see(memory, second)
    memory, _ = see(memory, closed)
    assert memory is not None and list(memory.reviews) == [SUG]
    _, sent = see(memory, replaced(story, "m7", "m8"))
    assert hand_overs(sent) == [(SUG, "m7", "m8")]


def test_a_group_keeps_only_its_latest_replacements() -> None:
    story = group()
    memory, _ = seen(story.events[0])
    names = ["m7", *(f"n{i}" for i in range(policies.MAX_REPLACEMENTS + 5))]
    for outgoing, incoming in itertools.pairwise(names):
        memory, _ = see(memory, replaced(story, outgoing, incoming))
    assert memory is not None and len(memory.replacements) == policies.MAX_REPLACEMENTS
    assert [r.incoming for r in memory.replacements] == names[-policies.MAX_REPLACEMENTS :]


@pytest.mark.parametrize("first", ["review", "replacement"])
def test_seats_end_as_the_group_sits_whichever_arrives_first(first: str) -> None:
    story, sug = group(), suggestion()
    opening = reviewed(story, sug, sug.clock + timedelta(minutes=1))
    replacement = replaced(story, "m3", "m8")
    order = [opening, replacement] if first == "review" else [replacement, opening]
    _, sent = seen(story.events[0], *order)
    for _, meta in sent:
        ok(deliver(sug, meta))
    assert set(seats(sug)) == set(story.state().members)


def test_a_member_replaced_and_back_before_a_review_leaves_its_seats_alone() -> None:
    story, sug = group(), suggestion()
    away, back = replaced(story, "m7", "m8"), replaced(story, "m8", "m7")
    opening = reviewed(story, sug, story.clock + timedelta(minutes=1))
    _, sent = seen(story.events[0], away, back, opening)
    assert sent == []
    later = [replaced(story, "m7", "m8"), replaced(story, "m8", "m7")]
    _, sent = seen(story.events[0], away, back, opening, *later)
    assert hand_overs(sent) == [(SUG, "m7", "m8"), (SUG, "m8", "m7")]
