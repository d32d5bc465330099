"""A generated case history written straight onto the events topics with the real contracts.

Deciding each command with the services' own `process()` gives real envelopes and real
hash chains; only the HTTP round trips are skipped, which would take far too long for
a hundred thousand events.
"""

from __future__ import annotations

import base64
import random
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from kafka import KafkaProducer

from contracts.catalog import SERVICES, service_of
from contracts.commands import CommandEnvelope
from contracts.envelope import Actor, Envelope, seal_envelope
from services.common.decider import CaseKind, Head, process
from services.common.keys import publish_key, signer_for
from services.common.settings import Settings
from services.intake.service import KIND as GRIEVANCE

# Free text as the API sends it: sealed (under a key these histories never hold).
SEALED = {"kid": "CASE-HISTORY0001", "nonce": "AAAAAAAAAAAAAAAA", "ct": "c2VhbGVk"}


def sealed_text(text: str) -> dict[str, str]:
    """A text standing sealed: its own bytes as the ciphertext, so histories differ as before."""
    return {**SEALED, "ct": base64.b64encode(text.encode()).decode()}


START = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)
UNITS = [f"demo/co/p{i:02d}" for i in range(1, 14)]


@dataclass
class Generated:
    """What was written: every case's events, in order."""

    events: dict[str, list[Envelope]] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.events.values())


Step = tuple[str, dict[str, Any]]
Script = Callable[[random.Random, str], list[Step]]


def grievance_script(rng: random.Random, unit: str) -> list[Step]:
    """A grievance's life: some stop early, some are escalated, some reopened."""
    opened: Step = (
        "log",
        {
            "unit": unit,
            "category": rng.choice(["canteen", "wages", "safety", "welfare", "training"]),
            "summary": sealed_text(
                rng.choice(["食堂菜品有待改善", "工资发放延迟", "宿舍热水不足", "安全帽破损"])
            ),
            "channel": rng.choice(["in_person", "phone", "hotline_12351", "app"]),
            "anonymous": True,
        },
    )
    steps: list[Step] = [opened, ("acknowledge", {})]
    if rng.random() < 0.4:
        steps += [
            ("escalate", {"owner": "lead-" + unit[-3:], "due": "2027-12-31"}),
            ("record_decision", {"decision": SEALED}),
            ("resolve", {"how": "leadership", "resolution": SEALED}),
        ]
    else:
        steps.append(("resolve", {"how": "on_site", "resolution": SEALED}))
    steps.append(("close", {}))
    if rng.random() < 0.3:
        steps += [
            ("reopen", {"reason": SEALED}),
            ("resolve", {"how": "on_site", "resolution": SEALED}),
            ("close", {}),
        ]
    return steps[: rng.randint(1, len(steps))] if rng.random() < 0.2 else steps


# One script per case kind; the other services add theirs as they arrive.
SCRIPTS: dict[str, tuple[CaseKind[Any], Script]] = {"GRV": (GRIEVANCE, grievance_script)}


def decide_case(
    kind: CaseKind[Any],
    case_id: str,
    steps: list[Step],
    start: datetime,
    *,
    correlation_id: str | None = None,
    causation_id: str | None = None,
) -> list[Envelope]:
    """Decide a case's commands one by one; return the events, exactly as the decider would."""
    head = Head()
    events: list[Envelope] = []
    for i, (command_type, payload) in enumerate(steps):
        when = start + timedelta(minutes=i)
        unit = steps[0][1]["unit"]
        meta = CommandEnvelope(
            command_id=str(uuid.uuid4()),
            command_type=command_type,
            case_id=case_id,
            actor=Actor(user_id=f"rep-{unit[-3:]}", role="worker_rep", unit=unit),
            issued_at=when,
            occurred_at=when,
            correlation_id=correlation_id or case_id,
            causation_id=(causation_id if i == 0 and causation_id else str(uuid.uuid4())),
            payload=payload,
        )
        outcome = process(kind, head, meta)
        assert outcome.reply.ok, (command_type, outcome.reply.refusal)
        head, events = outcome.head, events + outcome.events
    return events


def generate(target: int, seed: int = 6) -> Iterator[tuple[str, list[Envelope]]]:
    """Yield (case id, events) until at least `target` events were made."""
    rng = random.Random(seed)
    made = n = 0
    while made < target:
        prefix = list(SCRIPTS)[n % len(SCRIPTS)]
        kind, script = SCRIPTS[prefix]
        case_id = f"{prefix}-{n:012d}"
        start = START + timedelta(minutes=7 * n)
        events = decide_case(kind, case_id, script(rng, rng.choice(UNITS)), start)
        made += len(events)
        n += 1
        yield case_id, events


def signed(settings: Settings, env: Envelope) -> Envelope:
    """The event as its service's decider signs it."""
    return signer_for(settings, service_of(env.case_id).name).seal(env)


def signed_after(
    settings: Settings,
    last: dict[str, Any],
    event_type: str,
    payload: dict[str, Any],
    actor: Actor,
    causation_id: str,
) -> Envelope:
    """The event a decider would write next on a case, chained to its last one as read over HTTP."""
    at = datetime.now(UTC)
    case_id = str(last["case_id"])
    return signed(
        settings,
        seal_envelope(
            event_type=event_type,
            schema_version=1,
            case_id=case_id,
            case_version=last["case_version"] + 1,
            occurred_at=at,
            recorded_at=at,
            actor=actor,
            correlation_id=case_id,
            causation_id=causation_id,
            payload=payload,
            prev_hash=last["hash"],
            event_id=uuid.uuid4(),
        ),
    )


def write(settings: Settings, cases: Iterator[tuple[str, list[Envelope]]]) -> Generated:
    """Produce every event, signed as its decider would, onto its stream's events topic."""
    out = Generated()
    signers = {s: signer_for(settings, s) for s in SERVICES if SERVICES[s].kinds}
    for signer in signers.values():
        publish_key(settings, signer)
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        linger_ms=20,
        batch_size=256 * 1024,
        compression_type=None,
    )
    try:
        for case_id, events in cases:
            events = [signers[service_of(case_id).name].seal(e) for e in events]
            out.events[case_id] = events
            for env in events:
                producer.send(
                    settings.topic(f"{STREAM_OF[case_id[:3]]}.events"),
                    key=case_id.encode(),
                    value=env.to_bytes(),
                )
        producer.flush(timeout=120)
    finally:
        producer.close()
    return out


def send(settings: Settings, records: list[tuple[str, bytes]]) -> None:
    """Append raw (case id, value) records, in order (what someone with broker access could do)."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    try:
        for case_id, value in records:
            topic = settings.topic(f"{STREAM_OF[case_id[:3]]}.events")
            producer.send(topic, key=case_id.encode(), value=value)
        producer.flush(timeout=60)
    finally:
        producer.close()


STREAM_OF = {prefix: kind.stream for prefix, (kind, _) in SCRIPTS.items()}
