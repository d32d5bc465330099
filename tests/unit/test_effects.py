"""The cases a worker's action is concerned with: read as their heads change, not every tick."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.common.decider import Head
from services.common.effects import Concerned
from services.notify.sending import concerns
from services.notify.service import KIND, PREFERENCES
from tests.unit.stories import Story
from tests.unit.test_notify_domain import CHAIR, NPF, planned

SENT = "NTF-TEST00000002"


def head(state: BaseModel) -> dict[str, Any]:
    """The head a partition holds for a case in this state."""
    return Head(version=1, state=state.model_dump(mode="json")).model_dump(mode="json")


def prefs() -> BaseModel:
    story = Story(PREFERENCES, NPF)
    story.when("set_preferences", {"channels": ["email"]}, actor=CHAIR)
    state: BaseModel = story.state()
    return state


def test_only_messages_to_send_and_preferences_are_kept_as_their_heads_change() -> None:
    note = planned().state()
    sent = note.model_copy(update={"case_id": SENT, "status": "sent"})
    concerned = Concerned(KIND, concerns)
    concerned.held(
        0,
        {
            note.case_id: head(note),
            SENT: head(sent),
            NPF: head(prefs()),
            "NTF-TEST00000003": {"version": "not a number"},
            "NTF-TEST00000004": Head().model_dump(mode="json"),
        },
    )
    assert set(concerned.states([0])) == {note.case_id, NPF}
    assert concerned.states([0])[note.case_id] == note

    # Sent since: the message is done with; another one held elsewhere is not asked for.
    concerned.kept(0, {note.case_id: head(note.model_copy(update={"status": "sent"}))})
    concerned.kept(1, {SENT: head(sent.model_copy(update={"status": "planned"}))})
    assert set(concerned.states([0])) == {NPF}
    assert set(concerned.states([0, 1])) == {NPF, SENT}

    concerned.released(0)
    assert set(concerned.states([0, 1])) == {SENT}
    # Claimed again: what it holds now, not what was kept before.
    concerned.held(1, {})
    assert concerned.states([0, 1]) == {}
