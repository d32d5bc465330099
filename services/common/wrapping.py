"""Changing how one method of a stream processor's own object behaves, once per object."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def wrap_once(owner: Any, name: str, wrap: Callable[[Any], Any]) -> None:
    """Replace `owner.name` with `wrap(original)`, unless this wrap was installed already."""
    marker = f"_taizhang_wrapped_{name}"
    if getattr(owner, marker, False):
        return
    setattr(owner, name, wrap(getattr(owner, name)))
    setattr(owner, marker, True)
