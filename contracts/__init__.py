"""Taizhang's shared contracts: the event envelope, event and command schemas.

A stream's event models are loaded when first asked for (`contracts.grievance`, or the
registry asked for one of its event types), so that a reader of one case pays only for its
own stream's schemas.
"""

from __future__ import annotations

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    from contracts.catalog import STREAMS

    if name in STREAMS:
        return importlib.import_module(f"contracts.{name}")
    if name == "REGISTRY":
        from contracts.registry import REGISTRY

        return REGISTRY
    raise AttributeError(f"module 'contracts' has no attribute {name!r}")
