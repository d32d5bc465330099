"""A command is believed only when the ledger signed it: actor and unit included."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.commands import CommandEnvelope
from contracts.envelope import Actor
from services.common import command_signing
from services.common.settings import Settings

SETTINGS = Settings(environment="test", jwt_secret="j" * 40, master_key="m" * 40)
AT = datetime(2026, 3, 1, tzinfo=UTC)


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
    sent = command_signing.signature(SETTINGS, command())
    assert sent.startswith(b"commands/v1:")
    command_signing.verify(SETTINGS, command(), sent)
    # The same command read back from its JSON verifies the same.
    again = CommandEnvelope.model_validate_json(command().model_dump_json())
    command_signing.verify(SETTINGS, again, sent)


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
    sent = command_signing.signature(SETTINGS, command())
    with pytest.raises(command_signing.Forged, match="does not verify"):
        command_signing.verify(SETTINGS, command(**changed), sent)


def test_an_unsigned_or_foreign_signed_command_is_forged() -> None:
    with pytest.raises(command_signing.Forged, match="no signature"):
        command_signing.verify(SETTINGS, command(), None)
    other = SETTINGS.model_copy(update={"master_key": "x" * 40})
    with pytest.raises(command_signing.Forged, match="does not verify"):
        command_signing.verify(SETTINGS, command(), command_signing.signature(other, command()))
    with pytest.raises(command_signing.Forged, match="not one this ledger uses"):
        command_signing.verify(SETTINGS, command(), b"commands/v9:00")


def test_a_rotated_key_verifies_the_commands_of_the_version_before() -> None:
    sent = command_signing.signature(SETTINGS, command())
    command_signing.verify(SETTINGS.model_copy(update={"key_version": 2}), command(), sent)
    with pytest.raises(command_signing.Forged):
        command_signing.verify(SETTINGS.model_copy(update={"key_version": 3}), command(), sent)


def test_the_signature_is_found_among_headers_however_they_are_listed() -> None:
    assert command_signing.header_of([("other", b"x"), (command_signing.HEADER, b"s")]) == b"s"
    assert command_signing.header_of({command_signing.HEADER: b"s"}) == b"s"
    assert command_signing.header_of(None) is None and command_signing.header_of([]) is None
