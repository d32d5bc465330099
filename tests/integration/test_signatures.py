"""Forged events on a live ledger: each is named by verify at its offset and believed by no reader.

Someone who can write to `grievance.events` appends, with the project's own hashing, a
correctly chained withdrawal (unsigned), one carrying a signature copied from a genuine
event, an escalation signed with a key of their own, and a second version 2 with another
body and the genuine signature.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from kafka import KafkaProducer

from contracts.envelope import Envelope, chain_hash, seal_envelope
from services.common.keys import signer_for
from services.common.signing import Signer
from services.followup.policies import followup_id_for
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import consistently, eventually
from tests.integration.reading import ok

pytestmark = pytest.mark.integration
UNIT = "demo/co/p01"
OFFICER = {"user": "fup-p01", "role": "followup_officer", "unit": UNIT}
AUDITOR = {"user": "aud-1", "role": "auditor", "unit": "demo"}


@pytest.fixture(scope="module")
def sstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake, follow-up (a reactor on grievance events) and audit on one deployment."""
    with Stack(bootstrap, tmp_path_factory.mktemp("signatures"), "signatures") as s:
        for service in ("intake", "followup", "audit"):
            s.start(service)
        warm_up(s)
        yield s


def following(last: Envelope, event_type: str, payload: dict[str, Any]) -> Envelope:
    """An event chained to the case's last one, hashed as the ledger hashes, never decided."""
    return seal_envelope(
        event_type=event_type,
        schema_version=1,
        case_id=last.case_id,
        case_version=last.case_version + 1,
        occurred_at=last.occurred_at + timedelta(minutes=1),
        recorded_at=last.recorded_at + timedelta(minutes=1),
        actor=last.actor,
        correlation_id=last.correlation_id,
        causation_id=str(uuid.uuid4()),
        payload=payload,
        prev_hash=last.hash,
        event_id=uuid.uuid4(),
    )


def append(stack: Stack, case_id: str, values: list[bytes]) -> list[int]:
    """Append raw records to grievance.events as a client with write access could."""
    producer = KafkaProducer(bootstrap_servers=stack.env["KAFKA_BOOTSTRAP_SERVERS"], acks="all")
    try:
        topic = f"{stack.prefix}grievance.events"
        return [
            producer.send(topic, key=case_id.encode(), value=v).get(timeout=10).offset
            for v in values
        ]
    finally:
        producer.close()


def test_every_forgery_is_named_at_its_offset_and_changes_nothing(
    sstack: Stack, tmp_path: Path
) -> None:
    with sstack.client("intake") as rep:
        gid = ok(rep.post("/grievances", json=GRIEVANCE), 201)["case_id"]
        ok(rep.post(f"/grievances/{gid}/acknowledge", json={}))
        events = ok(rep.get(f"/grievances/{gid}/history"))["events"]
    genuine = [
        # The history gives the sealed text opened beside each event as recorded.
        Envelope.model_validate({k: v for k, v in e.items() if k not in ("_position", "opened")})
        for e in events
    ]
    intake_key = signer_for(sstack.settings, "intake").key_id
    assert [e.key_id for e in genuine] == [intake_key, intake_key]
    last = genuine[-1]

    withdrawn = following(last, "grievance.withdrawn", {"reason": "不再需要"})
    copied = following(last, "grievance.withdrawn", {"reason": None}).model_copy(
        update={"key_id": last.key_id, "signature": last.signature}
    )
    own_key = Signer("intake", Ed25519PrivateKey.generate())
    escalated = own_key.seal(
        following(last, "grievance.escalated", {"owner": "lead-p01", "due": "2099-01-01"})
    )
    body = last.to_wire()
    body["actor"] = {**body["actor"], "user_id": "someone-else"}
    body["hash"] = chain_hash(body)
    duplicate = json.dumps(body).encode()
    forged = [withdrawn.to_bytes(), copied.to_bytes(), escalated.to_bytes(), duplicate]
    offsets = append(sstack, gid, forged)

    verified = sstack.cli("audit", "verify", gid)
    assert verified.returncode == 1, verified.stdout + verified.stderr
    for offset in offsets:
        assert f"signature {gid} at {sstack.prefix}grievance.events/" in verified.stdout
        assert f"@{offset}: " in verified.stdout, (offset, verified.stdout)
    assert f"events verified under: {intake_key}" in verified.stdout
    assert "carries no signature" in verified.stdout
    assert "not among the keys believed" in verified.stdout

    with sstack.client("audit", **AUDITOR) as auditor:
        report = ok(auditor.get(f"/audit/verify/{gid}"))
        keys = ok(auditor.get("/audit/keys"))
    named = {f["offset"] for f in report["findings"] if f["kind"] == "signature"}
    assert named == set(offsets) and not report["clean"]
    assert report["keys"]["relied_on"] == [intake_key]
    assert intake_key in [k["key_id"] for k in keys["keys"] if k["believed"]]
    assert own_key.key_id not in [k["key_id"] for k in keys["keys"]]

    with sstack.client("intake") as rep:
        eventually(
            lambda: sstack.log("intake", "api"),
            until=lambda log: all(f'"offset": {o}' in log for o in offsets),
            timeout=30,
            what="the intake read model to refuse every forged record",
        )
        view = ok(rep.get(f"/grievances/{gid}"))
        assert view["status"] == "acknowledged" and view["version"] == 2
        assert "not believed" in view["quarantined"]["reason"]
    fup = followup_id_for(str(escalated.event_id), "progress")
    with sstack.client("followup", **OFFICER) as officer:
        eventually(
            lambda: sstack.log("followup", "worker"),
            until=lambda log: f'"offset": {offsets[2]}' in log and "not believed" in log,
            timeout=30,
            what="the follow-up reactor to refuse the escalation signed with a stranger's key",
        )
        consistently(
            lambda: officer.get(f"/followups/{fup}").status_code,
            until=lambda status: status == 404,
            during=3,
            what="no follow-up scheduled for the forged escalation",
        )
