"""The worker's receipt (受理回执): its number and PIN hash on the case, and the worker's notes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from contracts.envelope import Frozen
from contracts.personal import Sealed
from contracts.registry import EventPayload

# A letter naming the kind of case, then two groups of four letters or digits (no 0/O, 1/I).
RECEIPT_PATTERN = r"^[A-Z]-[2-9A-HJ-NP-Z]{4}-[2-9A-HJ-NP-Z]{4}$"
NoteKind = Literal["note", "not_contacted"]
# How a PIN's hash was made: a keyed HMAC-SHA256; receipts without it were hashed with scrypt.
PinScheme = Literal["hmac-sha256"]


class ReceiptRecord(Frozen):
    """A receipt as the ledger keeps it: the number, and the PIN only as a keyed hash."""

    number: str = Field(pattern=RECEIPT_PATTERN)
    pin_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    nonce: str = Field(pattern=r"^[0-9a-f]{32}$")
    scheme: PinScheme | None = None


class ReceiptIssued(EventPayload):
    """A receipt was given to the worker after the case opened (a new PIN when `reissued`)."""

    number: str = Field(pattern=RECEIPT_PATTERN)
    pin_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    nonce: str = Field(pattern=r"^[0-9a-f]{32}$")
    reissued: bool = False
    scheme: PinScheme | None = None


class WorkerNoted(EventPayload):
    """The worker, holding the receipt, added a note or said they were not contacted."""

    kind: NoteKind
    note: Sealed | None = None


class ReissueReceipt(Frozen):
    """Give the worker a new PIN for the case's receipt."""

    receipt: ReceiptRecord


class AddWorkerNote(Frozen):
    """Record what the worker said through the receipt page; the note arrives sealed."""

    kind: NoteKind
    note: Sealed | None = None
