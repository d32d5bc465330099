"""Receipts: numbers, PINs and their hashes old and new, the lock after wrong PINs, their events."""

from __future__ import annotations

import hmac
import json
import time
from datetime import date
from typing import get_args

import pytest

from contracts.receipt import ReceiptRecord
from services.common import receipts
from services.common.receipt_guard import MAX_TRACKED, ReceiptGuard
from services.common.subkeys import subkey
from services.intake.domain import Grievance
from services.intake.domain import Status as GrievanceStatus
from services.intake.public import NEXT as GRIEVANCE_NEXT
from services.intake.public import public_view
from services.intake.service import KIND
from services.mediation.public import NEXT as DISPUTE_NEXT
from services.mediation.state import Status as DisputeStatus
from tests.unit.stories import Story
from tests.unit.test_intake_domain import ACK, RESOLVE, SEALED, SYSTEM, at, log_payload

SECRET = "test-secret"


def test_a_retried_issue_gives_the_same_receipt_and_pin() -> None:
    first = receipts.issue(SECRET, "GRV-ABCDEFGH2345", "cmd-1")
    again = receipts.issue(SECRET, "GRV-ABCDEFGH2345", "cmd-1")
    other = receipts.issue(SECRET, "GRV-ABCDEFGH2345", "cmd-2")
    assert first == again
    assert other.number == first.number and other.record.pin_hash != first.record.pin_hash
    assert first.number.startswith("G-") and len(first.pin) == 6 and first.pin.isdigit()
    assert first.pin not in first.record.model_dump_json()


def test_only_the_right_pin_opens_and_an_unknown_receipt_never_does() -> None:
    slip = receipts.issue(SECRET, "DSP-ABCDEFGH2345", "cmd-1")
    assert slip.number.startswith("D-")
    assert receipts.matches(SECRET, slip.record, slip.pin)
    wrong = f"{(int(slip.pin) + 1) % 1_000_000:06d}"
    assert not receipts.matches(SECRET, slip.record, wrong)
    assert not receipts.matches("another-deployment", slip.record, slip.pin)
    assert not receipts.matches(SECRET, None, slip.pin)


def test_a_new_pin_is_hashed_with_hmac_under_its_own_key_and_says_so() -> None:
    slip = receipts.issue(SECRET, "GRV-ABCDEFGH2345", "cmd-1")
    record = slip.record
    assert record.scheme == "hmac-sha256" and not receipts.slow(record)
    salt = hmac.new(SECRET.encode(), f"pin/{record.number}/{record.nonce}".encode(), "sha256")
    keyed = hmac.new(subkey(SECRET, "receipt-pin"), salt.digest() + slip.pin.encode(), "sha256")
    assert record.pin_hash == keyed.hexdigest()
    under_master = hmac.new(SECRET.encode(), salt.digest() + slip.pin.encode(), "sha256")
    assert record.pin_hash != under_master.hexdigest()
    assert json.loads(record.model_dump_json())["scheme"] == "hmac-sha256"
    began = time.perf_counter()
    for _ in range(1000):
        assert receipts.matches(SECRET, record, slip.pin)
    assert time.perf_counter() - began < 2.0, "a thousand checks take milliseconds"


def _scrypt_receipt(case_id: str, pin: str) -> ReceiptRecord:
    """A receipt as one was given before PINs were hashed with HMAC: scrypt, no scheme."""
    number, nonce = receipts.number_for(SECRET, case_id), "ab" * 16
    hashed = receipts.pin_hash(SECRET, number, pin, nonce, scheme=None)
    return ReceiptRecord.model_validate({"number": number, "pin_hash": hashed, "nonce": nonce})


def test_a_receipt_hashed_with_scrypt_before_still_opens_with_its_pin_only() -> None:
    old = _scrypt_receipt("GRV-ABCDEFGH2345", "123456")
    assert old.scheme is None and receipts.slow(old) and not receipts.slow(None)
    assert receipts.matches(SECRET, old, "123456")
    assert not receipts.matches(SECRET, old, "123457")
    assert not receipts.matches("another-deployment", old, "123456")
    # What the log holds of it reads back as scrypt, and a reissued PIN is the new scheme's.
    assert receipts.latest([{"receipt": old.model_dump(exclude={"scheme"})}]) == old
    new = receipts.issue(SECRET, "GRV-ABCDEFGH2345", "reissue-1").record
    assert receipts.latest([{"receipt": old.model_dump()}, new.model_dump()]) == new


def test_a_reissue_over_an_old_receipt_records_the_new_scheme() -> None:
    story = Story(KIND, "GRV-TEST00000009")
    old = _scrypt_receipt(story.case_id, "654321")
    story.when("log", log_payload(receipt=old.model_dump(exclude={"scheme"})))
    assert story.events[0].payload["receipt"].get("scheme") is None
    new = receipts.issue(SECRET, story.case_id, "reissue-1")
    outcome = story.when("reissue_receipt", {"receipt": new.record.model_dump()})
    assert outcome.events[0].payload["scheme"] == "hmac-sha256"
    opened = receipts.latest([e.payload for e in story.events])
    assert receipts.matches(SECRET, opened, new.pin) and not receipts.matches(
        SECRET, opened, "654321"
    )


def test_a_receipt_number_is_read_as_people_type_it() -> None:
    assert receipts.normalise(" g 7k3m 9qx2 ") == "G-7K3M-9QX2"
    assert receipts.normalise("G-7K3M-9QX2") == "G-7K3M-9QX2"
    assert receipts.normalise("X-7K3M-9QX2") is None
    assert receipts.normalise("G-7K3M-9QX") is None
    assert receipts.normalise("G-OK3M-9QX2") is None  # no O: it is read as a zero
    with pytest.raises(ValueError):
        receipts.number_for(SECRET, "SUG-ABCDEFGH2345")


def test_a_receipt_locks_after_five_wrong_pins_and_opens_after_the_lock() -> None:
    now = [0.0]
    guard = ReceiptGuard(clock=lambda: now[0])
    for _ in range(4):
        assert guard.check("G-2222-2222", "c1") is None
        assert not guard.failed("G-2222-2222")
    assert guard.check("G-2222-2222", "c1") is None
    assert guard.failed("G-2222-2222")
    verdict = guard.check("G-2222-2222", "c2")
    assert verdict is not None and verdict.reason == "locked" and verdict.retry_after_s == 901
    now[0] = 901.0
    assert guard.check("G-2222-2222", "c2") is None


def test_a_right_pin_forgets_the_wrong_ones_before_it() -> None:
    guard = ReceiptGuard(clock=lambda: 0.0, per_receipt=100)
    for _ in range(4):
        guard.failed("G-2222-2222")
    guard.succeeded("G-2222-2222")
    assert not guard.failed("G-2222-2222")


def test_tries_are_limited_per_receipt_and_per_client_within_a_minute() -> None:
    now = [0.0]
    guard = ReceiptGuard(clock=lambda: now[0], per_receipt=3, per_client=5)
    assert all(guard.check("G-2222-2222", f"c{i}") is None for i in range(3))
    limited = guard.check("G-2222-2222", "c9")
    assert limited is not None and limited.reason == "limited"
    assert all(guard.check(f"G-3333-333{i}", "same") is None for i in range(2, 7))
    assert guard.check("G-4444-4444", "same") is not None
    now[0] = 61.0
    assert guard.check("G-2222-2222", "c1") is None
    assert all(guard.check_client("browser") is None for _ in range(5))
    assert guard.check_client("browser") is not None


def test_the_guard_forgets_the_oldest_beyond_its_bound() -> None:
    guard = ReceiptGuard(clock=lambda: 0.0)
    for i in range(MAX_TRACKED + 5):
        guard.failed(f"R{i}")
    assert len(guard._wrong) == MAX_TRACKED


def _with_receipt() -> tuple[Story[Grievance], receipts.Slip]:
    story = Story(KIND, "GRV-TEST00000001")
    slip = receipts.issue(SECRET, story.case_id, "log-1")
    payload = log_payload(receipt=slip.record.model_dump())
    outcome = story.when("log", payload)
    assert story.then_types(outcome) == ["grievance.logged"]
    assert outcome.events[0].payload["receipt"]["number"] == slip.number
    return story, slip


def test_a_logged_grievance_carries_its_receipt_and_never_the_pin() -> None:
    story, slip = _with_receipt()
    assert story.head.state is not None and story.head.state["receipt"] == slip.number
    assert slip.pin not in str([e.payload for e in story.events])


def test_an_anonymous_grievance_gets_a_receipt_too() -> None:
    story = Story(KIND, "GRV-TEST00000002")
    slip = receipts.issue(SECRET, story.case_id, "log-2")
    payload = log_payload(anonymous=True, complainant=None, receipt=slip.record.model_dump())
    outcome = story.when("log", payload)
    assert outcome.reply.ok and story.state().receipt == slip.number


def test_a_rep_reissues_the_pin_of_the_same_receipt_only() -> None:
    story, slip = _with_receipt()
    new = receipts.issue(SECRET, story.case_id, "reissue-1")
    outcome = story.when("reissue_receipt", {"receipt": new.record.model_dump()})
    assert outcome.events[0].payload["reissued"] is True
    payloads = [e.payload for e in story.events]
    assert receipts.latest(payloads) == new.record
    assert receipts.latest(payloads[:1]) == slip.record
    other = receipts.issue(SECRET, "GRV-OTHER0000001", "x")
    refused = story.when("reissue_receipt", {"receipt": other.record.model_dump()})
    assert story.refusal(refused)[0] == 422
    assert story.refusal(story.when("add_worker_note", {"kind": "not_contacted"}))[0] == 403


def test_the_worker_notes_and_says_they_were_not_contacted() -> None:
    story, _ = _with_receipt()
    noted = story.when("add_worker_note", {"kind": "note", "note": SEALED}, actor=SYSTEM)
    assert story.then_types(noted) == ["grievance.worker_noted"]
    story.when("add_worker_note", {"kind": "not_contacted"}, actor=SYSTEM)
    state = story.state()
    assert state.worker_notes == 2 and state.not_contacted_at is not None
    empty = story.when("add_worker_note", {"kind": "note"}, actor=SYSTEM)
    assert story.refusal(empty)[0] == 422


def test_a_case_without_a_receipt_takes_no_worker_note() -> None:
    story = Story(KIND, "GRV-TEST00000003")
    story.when("log", log_payload())
    outcome = story.when("add_worker_note", {"kind": "not_contacted"}, actor=SYSTEM)
    assert story.refusal(outcome)[0] == 409


def test_the_worker_sees_the_next_step_and_the_call_back_to_expect() -> None:
    story, _ = _with_receipt()
    view = public_view(story.state(), 3)
    assert view["next"] == "acknowledge" and view["next_by"] == date(2026, 11, 24)
    at(story, ACK)
    assert public_view(story.state(), 3)["next"] == "answer"
    at(story, RESOLVE)
    view = public_view(story.state(), 3)
    assert view["next"] == "callback" and view["callback_by"] == date(2026, 11, 26)
    assert "summary" not in view and "person_id" not in view


def test_every_status_has_a_next_step_for_the_worker() -> None:
    assert set(GRIEVANCE_NEXT) == set(get_args(GrievanceStatus))
    assert set(DISPUTE_NEXT) == set(get_args(DisputeStatus))
