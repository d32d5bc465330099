"""How often a receipt may be tried: per receipt, per client, and a lock after wrong PINs."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Beyond this many receipts or clients tracked, the longest untouched is forgotten first.
MAX_TRACKED = 10_000


@dataclass
class Verdict:
    """Why a try is refused before its PIN is checked, and when to come back."""

    reason: str
    retry_after_s: int


@dataclass
class ReceiptGuard:
    """Sliding one-minute windows per receipt and per client, and a lock per receipt.

    The counts live in the API's memory: a restart forgets them, which only ever frees a
    receipt early, never locks one.
    """

    per_receipt: int = 10
    per_client: int = 30
    wrong_pins: int = 5
    lock_s: float = 900.0
    clock: Callable[[], float] = time.monotonic
    _tries: dict[str, deque[float]] = field(default_factory=dict)
    _wrong: dict[str, int] = field(default_factory=dict)
    _locked: dict[str, float] = field(default_factory=dict)

    def check(self, receipt: str, client: str) -> Verdict | None:
        """Count a try; return why it is refused, or None to go on and check the PIN."""
        now = self.clock()
        until = self._locked.get(receipt)
        if until is not None and now < until:
            return Verdict("locked", int(until - now) + 1)
        if until is not None:
            del self._locked[receipt]
        if self._over(f"r:{receipt}", self.per_receipt, now) | self._over(
            f"c:{client}", self.per_client, now
        ):
            return Verdict("limited", 60)
        return None

    def check_client(self, client: str) -> Verdict | None:
        """Count a try of a client whose receipt is checked elsewhere; None to go on."""
        if self._over(f"c:{client}", self.per_client, self.clock()):
            return Verdict("limited", 60)
        return None

    def failed(self, receipt: str) -> bool:
        """Count a wrong PIN; return whether the receipt is locked now."""
        wrong = self._wrong.pop(receipt, 0) + 1
        if wrong >= self.wrong_pins:
            self._locked[receipt] = self.clock() + self.lock_s
            _bound(self._locked)
            return True
        self._wrong[receipt] = wrong
        _bound(self._wrong)
        return False

    def succeeded(self, receipt: str) -> None:
        """Forget the wrong PINs of a receipt once the right one is given."""
        self._wrong.pop(receipt, None)

    def _over(self, key: str, limit: int, now: float) -> bool:
        window = self._tries.pop(key, None) or deque()
        while window and window[0] <= now - 60:
            window.popleft()
        window.append(now)
        self._tries[key] = window
        _bound(self._tries)
        return len(window) > limit


def _bound(table: dict[str, Any]) -> None:
    while len(table) > MAX_TRACKED:
        del table[next(iter(table))]
