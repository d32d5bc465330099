"""What may go out now, on which channel, within the rate limits: pure, the clock passed in."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from contracts.notification import Channel
from services.notify.directory import Directory, Person
from services.notify.domain import Notification, Preferences
from services.notify.timing import in_quiet_hours

WINDOW = timedelta(hours=1)
# Beyond this many people or units remembered, those idle for the window are forgotten.
MAX_KEYS = 10_000
STAFF_DEFAULT: tuple[Channel, ...] = ("email",)


@dataclass(frozen=True)
class Route:
    """Where a message goes: its channel and, for staff, their address (workers' is sealed)."""

    channel: Channel
    address: str | None


def concerns(state: object) -> bool:
    """Whether sending may need a case: a message still to go out, or someone's preferences."""
    return isinstance(state, Preferences) or (
        isinstance(state, Notification) and state.status == "planned"
    )


def ready(note: Notification, now: datetime) -> bool:
    """Whether a message is waiting to be sent and its time has come."""
    return note.status == "planned" and note.next_try <= now


def route(note: Notification, prefs: Preferences | None, person: Person | None) -> Route | None:
    """Return the channel a message takes; None when its recipient has no address on any."""
    if note.audience == "worker":
        return Route("sms", None)
    if person is None:
        return None
    for channel in prefs.channels if prefs else STAFF_DEFAULT:
        address = {"email": person.email, "sms": person.phone, "wecom": person.wecom}[channel]
        if address:
            return Route(channel, address)
    return None


def quiet(
    note: Notification, prefs: Preferences | None, directory: Directory, now: datetime
) -> bool:
    """Whether it is the recipient's quiet hours (their own, or the service's)."""
    if prefs is not None:
        return in_quiet_hours(now, prefs.quiet_from, prefs.quiet_to)
    hours = directory.quiet_hours
    return in_quiet_hours(now, hours.start, hours.end)


class Limiter:
    """Counts what each person and each unit was sent in the last hour."""

    def __init__(self, person_per_hour: int, unit_per_hour: int) -> None:
        self.person_per_hour, self.unit_per_hour = person_per_hour, unit_per_hour
        self._sent: dict[str, deque[datetime]] = {}

    def allows(self, person: str, unit: str, now: datetime) -> bool:
        """Whether one more message to this person in this unit stays within both limits."""
        return self._count(f"p:{person}", now) < self.person_per_hour and (
            self._count(f"u:{unit}", now) < self.unit_per_hour
        )

    def record(self, person: str, unit: str, now: datetime) -> None:
        """Count a message sent."""
        if len(self._sent) > MAX_KEYS:
            self._forget(now)
        for key, limit in (
            (f"p:{person}", self.person_per_hour),
            (f"u:{unit}", self.unit_per_hour),
        ):
            self._sent.setdefault(key, deque(maxlen=limit)).append(now)

    def _count(self, key: str, now: datetime) -> int:
        times = self._sent.get(key)
        if not times:
            return 0
        while times and times[0] <= now - WINDOW:
            times.popleft()
        return len(times)

    def _forget(self, now: datetime) -> None:
        for key in [k for k, t in self._sent.items() if not t or t[-1] <= now - WINDOW]:
            del self._sent[key]
