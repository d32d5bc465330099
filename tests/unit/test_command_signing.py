"""A command is believed only when a process allowed to send it signed it: actor and unit
included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.commands import CommandEnvelope
from contracts.envelope import Actor
from services.common import command_signing
from services.common.settings import Settings

SETTINGS = Settings(environment="test", jwt_secret="j" * 40, master_key="m" * 40)
AT = datetime(2026, 3, 1, tzinfo=UTC)
API = "intake.api"
ALLOWED = command_signing.writers("grievance")


def command(**over: object) -> CommandEnvelope:
    """A rep's acknowledgement of a grievance."""
    meta = CommandEnvelope(
        command_id="cmd-00000001",
        command_type="acknowledge",
        case_id="GRV-AAAA00000001",
        actor=Actor(user_id="rep-p01", role="worker_rep", unit="demo/co/p01"),
        issued_at=AT,
        occurred_at=AT,
        correlation_id="GRV-AAAA00000001",
        causation_id="c",
        payload={"note": "已受理"},
    )
    return meta.model_copy(update=over)


def test_a_signed_command_verifies_and_names_its_key() -> None:
    sent = command_signing.signature(SETTINGS, command(), API)
    assert sent.startswith(b"commands/intake.api/v1:")
    assert command_signing.verify(SETTINGS, command(), sent, ALLOWED) == API
    command_signing.verify(SETTINGS, command(), sent, ALLOWED)
    # The same command read back from its JSON verifies the same.
    again = CommandEnvelope.model_validate_json(command().model_dump_json())
    command_signing.verify(SETTINGS, again, sent, ALLOWED)


@pytest.mark.parametrize(
    "changed",
    [
        {"actor": Actor(user_id="rep-p01", role="union_chair", unit="demo/co/p01")},
        {"actor": Actor(user_id="rep-p01", role="worker_rep", unit="demo/co")},
        {"actor": Actor(user_id="someone", role="worker_rep", unit="demo/co/p01")},
        {"case_id": "GRV-AAAA00000002"},
        {"payload": {"note": "另一句"}},
        {"command_type": "resolve"},
    ],
)
def test_a_command_changed_after_signing_is_forged(changed: dict[str, object]) -> None:
    sent = command_signing.signature(SETTINGS, command(), API)
    with pytest.raises(command_signing.Forged, match="does not verify"):
        command_signing.verify(SETTINGS, command(**changed), sent, ALLOWED)


def test_an_unsigned_or_foreign_signed_command_is_forged() -> None:
    with pytest.raises(command_signing.Forged, match="no signature"):
        command_signing.verify(SETTINGS, command(), None, ALLOWED)
    other = SETTINGS.model_copy(update={"master_key": "x" * 40})
    with pytest.raises(command_signing.Forged, match="does not verify"):
        command_signing.verify(
            SETTINGS, command(), command_signing.signature(other, command(), API), ALLOWED
        )
    with pytest.raises(command_signing.Forged, match="not one this ledger uses"):
        command_signing.verify(SETTINGS, command(), b"commands/v9:00", ALLOWED)


def test_a_rotated_key_verifies_the_commands_of_the_version_before() -> None:
    sent = command_signing.signature(SETTINGS, command(), API)
    command_signing.verify(SETTINGS.model_copy(update={"key_version": 2}), command(), sent, ALLOWED)
    with pytest.raises(command_signing.Forged):
        command_signing.verify(
            SETTINGS.model_copy(update={"key_version": 3}), command(), sent, ALLOWED
        )


def test_the_signature_is_found_among_headers_however_they_are_listed() -> None:
    assert command_signing.header_of([("other", b"x"), (command_signing.HEADER, b"s")]) == b"s"
    assert command_signing.header_of({command_signing.HEADER: b"s"}) == b"s"
    assert command_signing.header_of(None) is None and command_signing.header_of([]) is None


def test_each_stream_is_written_by_its_own_service_and_the_reactors_that_answer_into_it() -> None:
    assert command_signing.writers("grievance") == {
        "intake.api",
        "intake.worker",
        "followup.worker",
    }
    assert command_signing.writers("dispute") == {
        "mediation.api",
        "mediation.worker",
        "followup.worker",
    }
    assert command_signing.writers("followup") == {"followup.api", "followup.worker"}
    assert command_signing.writers("notification") == {"notify.api", "notify.worker"}
    with pytest.raises(ValueError):
        command_signing.sender("intake", "portal")


def test_each_sender_signs_with_a_key_of_its_own() -> None:
    keys = {
        command_signing.signature(SETTINGS, command(), f"{s}.{p}").partition(b":")[2]
        for s in ("intake", "mediation", "followup")
        for p in command_signing.PARTS
    }
    assert len(keys) == 6


def test_a_command_signed_by_a_service_not_allowed_on_the_stream_is_forged() -> None:
    for who in ("mediation.api", "notify.worker", "followup.api"):
        sent = command_signing.signature(SETTINGS, command(), who)
        with pytest.raises(command_signing.Forged, match="may not send it here"):
            command_signing.verify(SETTINGS, command(), sent, ALLOWED)
    # One allowed sender's key id on another's signature does not verify.
    theirs = command_signing.signature(SETTINGS, command(), "mediation.api").partition(b":")[2]
    with pytest.raises(command_signing.Forged, match="does not verify"):
        command_signing.verify(SETTINGS, command(), b"commands/intake.api/v1:" + theirs, ALLOWED)
    with pytest.raises(command_signing.Forged, match="not one this ledger uses"):
        command_signing.verify(SETTINGS, command(), b"commands/intake.api/vx:00", ALLOWED)
