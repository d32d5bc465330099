"""The shared decider machinery: chains, versions, idempotency and redelivery."""

from __future__ import annotations

from datetime import timedelta

from contracts.envelope import GENESIS_HASH, chain_hash
from services.common.decider import Head, process
from services.common.ids import keyed, new_case_id
from services.intake.service import KIND
from tests.unit.stories import REP, T0, command
from tests.unit.test_intake_domain import log_payload

CASE = "GRV-TEST00000100"


def test_events_chain_from_genesis_and_each_other() -> None:
    first = process(KIND, Head(), command(CASE, "log", log_payload()))
    second = process(KIND, first.head, command(CASE, "acknowledge"))
    a, b = first.events[0], second.events[0]
    assert a.prev_hash == GENESIS_HASH
    assert b.prev_hash == a.hash
    assert chain_hash(a.to_wire()) == a.hash
    assert (a.case_version, b.case_version) == (1, 2)
    assert second.head.hash == b.hash and second.head.version == 2


def test_redelivered_command_yields_byte_identical_events() -> None:
    meta = command(CASE, "log", log_payload(), command_id="cmd-redelivered-1")
    once = process(KIND, Head(), meta)
    twice = process(KIND, Head(), meta)
    assert [e.to_bytes() for e in once.events] == [e.to_bytes() for e in twice.events]


def test_answered_command_is_answered_again_not_decided_again() -> None:
    meta = command(CASE, "log", log_payload(), command_id="cmd-answered-1", fingerprint="f1")
    first = process(KIND, Head(), meta)
    retry = process(KIND, first.head, meta)
    assert retry.events == []
    assert retry.reply == first.reply
    assert retry.head == first.head


def test_an_assigned_key_sent_back_finds_the_first_command_and_its_case() -> None:
    assigned = keyed(REP, "grievances", None)
    retried = keyed(REP, "grievances", assigned.key)
    assert retried == assigned and keyed(REP, "grievances", None) != assigned
    case = new_case_id("GRV", assigned.command_id)
    assert new_case_id("GRV", retried.command_id) == case
    # The first send is delivered late, after the caller heard 503; the retry comes after it.
    late = command(case, "log", log_payload(), command_id=assigned.command_id, fingerprint="f")
    retry = late.model_copy(update={"issued_at": T0 + timedelta(seconds=30)})
    first = process(KIND, Head(), late)
    again = process(KIND, first.head, retry)
    assert len(first.events) == 1 and again.events == []
    assert again.reply == first.reply


def test_reused_idempotency_key_with_another_body_is_refused() -> None:
    meta = command(
        CASE, "log", log_payload(), command_id="cmd-reused-1", fingerprint="fingerprint/v1:f1"
    )
    first = process(KIND, Head(), meta)
    other = meta.model_copy(update={"fingerprint": "fingerprint/v1:f2"})
    reply = process(KIND, first.head, other).reply
    assert reply.refusal is not None and reply.refusal.status == 409
    assert "Idempotency-Key" in reply.refusal.detail


def test_a_retry_across_a_change_of_fingerprint_key_is_answered_as_the_command_was() -> None:
    # Kept before fingerprints named their key, or made with an older key: not comparable.
    for stored in ("0f1e2d", "fingerprint/v1:f1"):
        meta = command(CASE, "log", log_payload(), command_id="cmd-upgraded", fingerprint=stored)
        first = process(KIND, Head(), meta)
        retry = meta.model_copy(update={"fingerprint": "fingerprint/v2:f9"})
        again = process(KIND, first.head, retry)
        assert again.events == [] and again.reply == first.reply


def test_expected_version_mismatch_is_a_conflict() -> None:
    first = process(KIND, Head(), command(CASE, "log", log_payload()))
    stale = process(KIND, first.head, command(CASE, "acknowledge", expected_version=0))
    assert stale.events == []
    assert stale.reply.refusal is not None and stale.reply.refusal.status == 409
    assert "at version 1, not 0" in stale.reply.refusal.detail
    fresh = process(KIND, first.head, command(CASE, "acknowledge", expected_version=1))
    assert fresh.reply.ok and fresh.reply.version == 2


def test_unknown_command_type_is_invalid() -> None:
    first = process(KIND, Head(), command(CASE, "log", log_payload()))
    reply = process(KIND, first.head, command(CASE, "teleport")).reply
    assert reply.refusal is not None and reply.refusal.status in (403, 422)


def test_refusal_changes_nothing() -> None:
    first = process(KIND, Head(), command(CASE, "log", log_payload()))
    refused = process(KIND, first.head, command(CASE, "close"))
    assert refused.events == [] and refused.head == first.head
