"""How long-running reads of the log tell a front end how far they have come."""

from __future__ import annotations

from typing import Protocol


class Meter(Protocol):
    """Told how much work lies ahead and how much is done, so a front end can show it."""

    def start(self, label: str, total: int | None) -> None:
        """A piece of work of `total` records (unknown if None) begins."""

    def advance(self, records: int) -> None:
        """`records` more records are done."""

    def finish(self) -> None:
        """The piece of work is complete."""


class Quiet:
    """A meter that shows nothing."""

    def start(self, label: str, total: int | None) -> None:
        """Show nothing."""

    def advance(self, records: int) -> None:
        """Show nothing."""

    def finish(self) -> None:
        """Show nothing."""


QUIET = Quiet()
