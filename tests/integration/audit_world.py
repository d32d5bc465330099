"""A deployment for the auditor's tests: a generated history, with intake and audit caught up."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from services.intake.service import KIND
from tests.integration import history
from tests.integration.conftest import Stack
from tests.integration.polling import eventually

EVENTS = 10_000


@dataclass
class World:
    """A deployment holding a generated history, with intake and audit running on it."""

    stack: Stack
    written: history.Generated
    parent: str
    child: str

    def case(self, n: int) -> str:
        return sorted(self.written.events)[n]


def _health(stack: Stack, service: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{stack.url(service)}/health", timeout=5).json()
    return body


def build_world(bootstrap: str, root: Path, events: int) -> World:
    """Write a history, start intake and audit on it, and wait until they have caught up."""
    stack = Stack(bootstrap, root, "audit")
    stack.env["TAIZHANG_CHECKPOINT_INTERVAL_S"] = "1"
    written = history.write(stack.settings, history.generate(events))
    # A case opened in the name of another, by one of its events: a lineage link.
    parent = sorted(written.events)[0]
    cause = written.events[parent][-1]
    child = f"GRV-{uuid.uuid4().hex[:12].upper()}"
    steps = history.grievance_script(random.Random(1), "demo/co/p01")[:2]
    linked = history.decide_case(
        KIND,
        child,
        steps,
        cause.recorded_at + timedelta(minutes=5),
        correlation_id=parent,
        causation_id=str(cause.event_id),
    )
    extra = history.write(stack.settings, iter([(child, linked)]))
    written.events.update(extra.events)
    try:
        stack.start("intake")
        stack.start("audit")
        timeout = 120 + events / 500
        eventually(
            lambda: _health(stack, "intake"),
            until=lambda health: health.get("lag") == 0,
            timeout=timeout,
            interval=0.5,
            ignoring=(httpx.HTTPError,),
            what="intake to project the history",
        )
        eventually(
            lambda: _health(stack, "audit"),
            until=lambda health: health.get("indexed") == written.count,
            timeout=timeout,
            interval=0.5,
            ignoring=(httpx.HTTPError,),
            what=f"the audit index to hold the history's {written.count} events",
        )
        eventually(
            lambda: stack.log("audit", "worker"),
            until=lambda log: (
                "audit.checkpoint.published" in log and "audit.tree_heads.published" in log
            ),
            timeout=120,
            interval=0.5,
            what="the audit worker to sign a checkpoint and tree heads",
        )
    except BaseException:
        stack.stop()
        raise
    return World(stack, written, parent, child)
