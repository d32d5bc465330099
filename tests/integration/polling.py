"""Waiting for what the system does eventually: bounded polls that name what they waited for."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")

INTERVAL = 0.3
SHOWN = 300  # characters of the last value kept at each end of a failure message


def eventually(
    fn: Callable[[], T],
    *,
    until: Callable[[T], bool] = bool,
    timeout: float = 45,
    what: str,
    interval: float = INTERVAL,
    ignoring: tuple[type[Exception], ...] = (),
) -> T:
    """Call `fn` until `until` holds for its value and return that value.

    Fails after `timeout` seconds, saying what was awaited and the last value seen. An
    exception of a type in `ignoring` (a service still starting, say) counts as "not yet".
    """
    deadline = time.monotonic() + timeout
    last = "nothing"
    while True:
        try:
            value = fn()
        except ignoring as error:
            last = f"{type(error).__name__}: {error}"
        else:
            if until(value):
                return value
            last = repr(value)
        if time.monotonic() >= deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}; last seen: {_shorten(last)}")
        time.sleep(interval)


def consistently(
    fn: Callable[[], T],
    *,
    until: Callable[[T], bool] = bool,
    during: float,
    what: str,
    interval: float = INTERVAL,
) -> T:
    """Call `fn` for `during` seconds, failing as soon as `until` does not hold; return the last.

    For what must not happen: timers that tick on and must record nothing more.
    """
    deadline = time.monotonic() + during
    while True:
        value = fn()
        if not until(value):
            raise AssertionError(f"expected {what} for {during:g}s; saw {_shorten(repr(value))}")
        if time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def _shorten(text: str) -> str:
    if len(text) <= 2 * SHOWN:
        return text
    return f"{text[:SHOWN]} … {text[-SHOWN:]}"
