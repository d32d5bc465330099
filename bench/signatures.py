"""What signing and checking an event cost, per event, beside hashing it alone."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from contracts.envelope import Actor, Envelope, chain_hash, seal_envelope
from services.common.signing import KeyRing, Signer, verify_event
from services.common.subkeys import subkey

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
ACTOR = Actor(user_id="rep-p01", role="worker_rep", unit="demo/co/p01")


def events(count: int) -> list[Envelope]:
    """A chain of acknowledged-grievance events of the size the ledger writes."""
    out: list[Envelope] = []
    prev = "0" * 64
    for n in range(count):
        env = seal_envelope(
            event_type="grievance.acknowledged",
            schema_version=1,
            case_id="GRV-BENCH0000001",
            case_version=n + 1,
            occurred_at=T0 + timedelta(seconds=n),
            recorded_at=T0 + timedelta(seconds=n),
            actor=ACTOR,
            correlation_id="GRV-BENCH0000001",
            causation_id=str(uuid.uuid4()),
            payload={"note": "已受理，三个工作日内答复"},
            prev_hash=prev,
            event_id=uuid.uuid4(),
        )
        out.append(env)
        prev = env.hash
    return out


def _per_event_us(work: Callable[[Envelope], object], sample: list[Envelope]) -> float:
    began = time.perf_counter()
    for env in sample:
        work(env)
    return (time.perf_counter() - began) / len(sample) * 1e6


def measure(count: int = 5000) -> dict[str, Any]:
    """Time hashing, signing and checking each event of a sample, in microseconds per event."""
    signer = Signer.from_seed("intake", subkey("bench master secret", "signing/intake"))
    ring = KeyRing.of([signer.published()])
    sample = events(count)
    signed = [signer.seal(env) for env in sample]
    wires = {id(env): env.to_wire() for env in sample}
    hashing = _per_event_us(lambda env: chain_hash(wires[id(env)]), sample)
    signing = _per_event_us(signer.seal, sample)
    checking = _per_event_us(lambda env: verify_event(env, ring, "intake"), signed)
    return {
        "events": count,
        "hash_us": round(hashing, 2),
        "sign_us": round(signing, 2),
        "verify_us": round(checking, 2),
        "sign_vs_hash": round(signing / hashing, 2),
        "verify_vs_hash": round(checking / hashing, 2),
    }
