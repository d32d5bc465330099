"""Receipts (受理回执): numbers, PINs and their keyed hashes, and the rules of their events."""

from __future__ import annotations

import functools
import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from contracts.receipt import (
    RECEIPT_PATTERN,
    AddWorkerNote,
    PinScheme,
    ReceiptIssued,
    ReceiptRecord,
    ReissueReceipt,
    WorkerNoted,
)
from contracts.registry import EventPayload
from services.common.domain import Command, Invalid, Refused
from services.common.subkeys import subkey

ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
# The kinds of case a worker holds a receipt for, by the letter its number starts with.
KINDS = {"G": "GRV", "D": "DSP"}
PIN_DIGITS = 6
# A PIN is hashed with HMAC-SHA256 under a key derived for it alone: without the deployment's
# secret nobody can test a guess, even offline, and with it lookups are counted and locked.
PIN_SCHEME: PinScheme = "hmac-sha256"
PIN_PURPOSE = "receipt-pin"
# Receipts given before that carry no scheme: their PINs were hashed with scrypt (about 50 ms
# and 16 MiB a check), and still are when they are checked.
SCRYPT = {"n": 2**14, "r": 8, "p": 1, "dklen": 32, "maxmem": 64 * 1024 * 1024}
_NUMBER = re.compile(RECEIPT_PATTERN)
# Checked against when a receipt is unknown, so a miss costs what a wrong PIN costs.
_DUMMY = ReceiptRecord(number="G-2222-2222", pin_hash="0" * 64, nonce="0" * 32, scheme=PIN_SCHEME)


@dataclass(frozen=True)
class Slip:
    """A receipt as handed to the worker: the PIN in the clear, once, and what the ledger keeps."""

    number: str
    pin: str
    record: ReceiptRecord


def _mac(secret: str, text: str) -> bytes:
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).digest()


def number_for(secret: str, case_id: str) -> str:
    """Derive a case's receipt number, the same on every retry, unguessable without the key."""
    letter = case_id[0]
    if KINDS.get(letter) != case_id.split("-", 1)[0]:
        raise ValueError(f"a {case_id.split('-', 1)[0]} case has no receipt")
    digest = _mac(secret, f"receipt/{case_id}")
    chars = "".join(ALPHABET[b % len(ALPHABET)] for b in digest[:8])
    return f"{letter}-{chars[:4]}-{chars[4:]}"


@functools.lru_cache(maxsize=4)
def _pin_key(secret: str) -> bytes:
    """The key PINs are hashed under, derived once per deployment secret."""
    return subkey(secret, PIN_PURPOSE)


def pin_hash(
    secret: str, number: str, pin: str, nonce: str, scheme: PinScheme | None = PIN_SCHEME
) -> str:
    """Return the hash of a PIN, salted by the receipt and keyed by the deployment."""
    salt = _mac(secret, f"pin/{number}/{nonce}")
    if scheme is None:
        return hashlib.scrypt(pin.encode(), salt=salt, **SCRYPT).hex()
    return hmac.new(_pin_key(secret), salt + pin.encode(), hashlib.sha256).hexdigest()


def issue(secret: str, case_id: str, command_id: str) -> Slip:
    """Make the receipt of a case for the command that issues it; a retry makes the same PIN."""
    number = number_for(secret, case_id)
    digits = int.from_bytes(_mac(secret, f"pin/{command_id}")[:8], "big") % 10**PIN_DIGITS
    pin = f"{digits:0{PIN_DIGITS}d}"
    nonce = _mac(secret, f"nonce/{command_id}")[:16].hex()
    record = ReceiptRecord(
        number=number,
        pin_hash=pin_hash(secret, number, pin, nonce),
        nonce=nonce,
        scheme=PIN_SCHEME,
    )
    return Slip(number=number, pin=pin, record=record)


def slow(record: ReceiptRecord | None) -> bool:
    """Whether checking a PIN against a receipt takes scrypt's time and memory (an old receipt)."""
    return record is not None and record.scheme is None


def matches(secret: str, record: ReceiptRecord | None, pin: str) -> bool:
    """Whether a PIN opens a receipt, in constant time, the same work for an unknown receipt."""
    kept = record or _DUMMY
    given = pin_hash(secret, kept.number, pin, kept.nonce, kept.scheme)
    return hmac.compare_digest(given, kept.pin_hash) and record is not None


def normalise(text: str) -> str | None:
    """Return a receipt number as typed (any case, spaces or dashes) in its form, or None."""
    letters = re.sub(r"[\s-]", "", text.upper())
    if len(letters) != 9:
        return None
    number = f"{letters[0]}-{letters[1:5]}-{letters[5:]}"
    return number if _NUMBER.match(number) and number[0] in KINDS else None


def kind_of(number: str) -> str:
    """Return the case-id prefix of the kind of case a receipt number is for."""
    return KINDS[number[0]]


def latest(payloads: list[dict[str, Any]]) -> ReceiptRecord | None:
    """The receipt a case holds now, from its events' payloads in order: the last one given."""
    found = None
    for payload in payloads:
        given = payload.get("receipt") if "pin_hash" not in payload else payload
        if isinstance(given, dict) and "pin_hash" in given:
            found = ReceiptRecord(
                number=given["number"],
                pin_hash=given["pin_hash"],
                nonce=given["nonce"],
                scheme=given.get("scheme"),
            )
    return found


def decide(
    receipt: str | None,
    cmd: Command[object],
    issued: type[ReceiptIssued],
    noted: type[WorkerNoted],
) -> list[EventPayload]:
    """Decide a reissued PIN or a worker's note on a case whose receipt is `receipt`."""
    p = cmd.payload
    if isinstance(p, ReissueReceipt):
        if receipt is not None and p.receipt.number != receipt:
            raise Invalid(f"the case's receipt is {receipt}, not {p.receipt.number}")
        record = p.receipt
        return [
            issued(
                number=record.number,
                pin_hash=record.pin_hash,
                nonce=record.nonce,
                reissued=receipt is not None,
                scheme=record.scheme,
            )
        ]
    if isinstance(p, AddWorkerNote):
        if receipt is None:
            raise Refused(f"{cmd.meta.case_id} has no receipt a worker could write with")
        if p.kind == "note" and p.note is None:
            raise Invalid("a note needs its text")
        return [noted(kind=p.kind, note=p.note)]
    raise Invalid(f"not a receipt command: {cmd.meta.command_type}")


def evolved(worker_notes: int, event: EventPayload, at: datetime) -> dict[str, object] | None:
    """The change a receipt event makes to a case's state (None: not a receipt event)."""
    if isinstance(event, ReceiptIssued):
        return {"receipt": event.number}
    if isinstance(event, WorkerNoted):
        change: dict[str, object] = {"worker_notes": worker_notes + 1}
        if event.kind == "not_contacted":
            change["not_contacted_at"] = at
        return change
    return None
