"""A message's life: planned once, tried with backoff, failing for good, cancelled or seen."""

from __future__ import annotations

from datetime import timedelta

from contracts import notification as n
from contracts.envelope import Actor
from services.notify.directory import Directory, Person
from services.notify.domain import MAX_ATTEMPTS, backoff
from services.notify.sending import Limiter, Route, ready, route
from services.notify.service import KIND, PREFERENCES
from tests.unit.stories import T0, Story

NTF = "NTF-TEST00000001"
NPF = "NPF-TEST00000001"
SYSTEM = Actor(user_id="system", role="system", unit="demo/co/p01")
CHAIR = Actor(user_id="chair-p01", role="union_chair", unit="demo/co/p01")
PLAN = {
    "unit": "demo/co/p01",
    "audience": "staff",
    "recipient": "chair-p01",
    "template": "acceptance_due",
    "params": {"receipt": "DSP-TEST00000001", "date": "2026-11-25"},
    "send_at": (T0 + timedelta(hours=1)).isoformat(),
    "source_case_id": "DSP-TEST00000001",
    "source_event_id": "e-1",
}


def free_text(schema: dict[str, object]) -> bool:
    """Whether a JSON Schema admits any string: not a closed set, not a time."""
    closed = "enum" in schema or "const" in schema or "format" in schema
    return schema.get("type") == "string" and not closed


def planned() -> Story:  # type: ignore[type-arg]
    story = Story(KIND, NTF)
    assert story.then_types(story.when("plan", PLAN, actor=SYSTEM)) == ["notification.planned"]
    return story


def test_a_message_is_planned_once_and_a_replayed_plan_is_refused() -> None:
    story = planned()
    assert story.refusal(story.when("plan", PLAN, actor=SYSTEM))[0] == 409
    assert story.state().status == "planned" and not ready(story.state(), T0)
    assert ready(story.state(), T0 + timedelta(hours=1))


def test_failures_back_off_then_count_as_permanent() -> None:
    story = planned()
    for attempt in range(1, MAX_ATTEMPTS):
        failure = {"channel": "email", "attempt": attempt, "code": "refused", "status": 451}
        story.when("record_failure", failure, actor=SYSTEM)
        state = story.state()
        assert state.status == "planned" and state.attempts == attempt
        assert state.retry_at is not None and state.retry_at - state.last_event_at == backoff(
            attempt
        )
    assert (
        story.refusal(story.when("record_sent", {"channel": "email", "attempt": 1}, actor=SYSTEM))[
            0
        ]
        == 409
    )
    last = {"channel": "email", "attempt": MAX_ATTEMPTS, "code": "refused", "status": 451}
    story.when("record_failure", last, actor=SYSTEM)
    assert story.state().status == "failed" and story.state().retry_at is None
    assert backoff(1) == timedelta(seconds=30) and backoff(2) == timedelta(seconds=60)
    assert backoff(100) == timedelta(hours=1)


def test_a_permanent_failure_stops_at_once() -> None:
    story = planned()
    story.when(
        "record_failure",
        {"channel": "email", "attempt": 1, "code": "bounced", "status": 550, "permanent": True},
        actor=SYSTEM,
    )
    assert story.state().status == "failed" and story.state().last_failure == "bounced"


def test_a_failure_is_recorded_as_a_code_and_never_as_text() -> None:
    story = planned()
    text = {"channel": "email", "attempt": 1, "reason": "550 no such user chair-p01@union.example"}
    assert story.refusal(story.when("record_failure", text, actor=SYSTEM))[0] == 422
    unknown = {"channel": "email", "attempt": 1, "code": "chair-p01@union.example"}
    assert story.refusal(story.when("record_failure", unknown, actor=SYSTEM))[0] == 422
    fields = n.NotificationFailed.model_json_schema()["properties"].items()
    free = [k for k, v in fields for t in v.get("anyOf", [v]) if free_text(t)]
    assert free == [], "only closed sets, numbers and times: nothing the far end wrote"


def test_a_sent_message_cannot_be_cancelled_and_only_its_recipient_acknowledges_it() -> None:
    story = planned()
    story.when("record_sent", {"channel": "email", "attempt": 1}, actor=SYSTEM)
    assert story.refusal(story.when("cancel", {"reason": "deadline_met"}, actor=SYSTEM))[0] == 409
    other = Actor(user_id="chair-co", role="union_chair", unit="demo/co")
    assert story.refusal(story.when("acknowledge", {}, actor=other))[0] == 403
    assert story.then_types(story.when("acknowledge", {}, actor=CHAIR)) == [
        "notification.acknowledged"
    ]


def test_a_met_deadline_cancels_a_message_not_yet_sent() -> None:
    story = planned()
    assert story.then_types(story.when("cancel", {"reason": "deadline_met"}, actor=SYSTEM)) == [
        "notification.cancelled"
    ]
    assert story.state().status == "cancelled" and not ready(story.state(), T0 + timedelta(days=1))
    assert (
        story.refusal(story.when("record_sent", {"channel": "email", "attempt": 1}, actor=SYSTEM))[
            0
        ]
        == 409
    )


def test_preferences_choose_the_channel_and_belong_to_their_user() -> None:
    prefs = Story(PREFERENCES, NPF)
    body = {"channels": ["wecom", "email"], "quiet_from": 21, "quiet_to": 7}
    assert prefs.then_types(prefs.when("set_preferences", body, actor=CHAIR)) == [
        "notification.preferences_set"
    ]
    other = Actor(user_id="chair-co", role="union_chair", unit="demo/co")
    assert prefs.refusal(prefs.when("set_preferences", body, actor=other))[0] == 403
    person = Person(id="chair-p01", role="union_chair", unit="demo/co/p01", email="c@union.example")
    note = planned().state()
    assert route(note, prefs.state(), person) == Route("email", "c@union.example")
    assert route(note, None, person.model_copy(update={"wecom": "chair"})) == Route(
        "email", "c@union.example"
    )
    assert route(note, prefs.state(), person.model_copy(update={"wecom": "chair"})) == Route(
        "wecom", "chair"
    )
    assert route(note, None, None) is None
    assert Directory(people=(person,)).nearest("union_chair", "demo/co/p01/x") == ("chair-p01",)


def test_rate_limits_count_per_person_and_per_unit_within_the_hour() -> None:
    limiter = Limiter(person_per_hour=2, unit_per_hour=3)
    for _ in range(2):
        assert limiter.allows("a", "u", T0)
        limiter.record("a", "u", T0)
    assert not limiter.allows("a", "u", T0) and limiter.allows("b", "u", T0)
    limiter.record("b", "u", T0)
    assert not limiter.allows("c", "u", T0)
    assert limiter.allows("a", "u", T0 + timedelta(hours=1, seconds=1))
