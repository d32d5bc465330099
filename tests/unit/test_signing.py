"""Signed events: what a signature covers, whose keys are believed, what each forgery looks like."""

from __future__ import annotations

import json
import random
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from contracts.envelope import Envelope, chain_hash, parse_record, seal_envelope
from services.audit import checkpoint, verification
from services.audit.records import LogRecord, Position
from services.common.keys import KeyMissing, Trust, signer_for
from services.common.settings import Settings
from services.common.signing import (
    Coverage,
    KeyRing,
    PublicKey,
    Signer,
    admit,
    admit_head,
    key_id_of,
    open_checkpoint,
    parse_pins,
    verify_event,
)
from services.common.subkeys import subkey
from services.intake.service import KIND
from tests.integration.history import decide_case, grievance_script

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
MASTER = "a master secret for the tests only"
INTAKE = Signer.from_seed("intake", subkey(MASTER, "signing/intake"))
RING = KeyRing.of([INTAKE.published()])
TOPIC = "grievance.events"


def history(case_id: str = "GRV-AAAA00000001") -> list[Envelope]:
    steps = grievance_script(random.Random(1), "demo/co/p01")[:3]
    return [INTAKE.seal(e) for e in decide_case(KIND, case_id, steps, T0)]


def withdrawn_after(last: Envelope, **changes: object) -> Envelope:
    """The forgery: a correctly chained `grievance.withdrawn` with a fresh event id."""
    fields: dict[str, object] = {
        "event_type": "grievance.withdrawn",
        "schema_version": 1,
        "case_id": last.case_id,
        "case_version": last.case_version + 1,
        "occurred_at": last.occurred_at + timedelta(minutes=1),
        "recorded_at": last.recorded_at + timedelta(minutes=1),
        "actor": last.actor,
        "correlation_id": last.correlation_id,
        "causation_id": str(uuid.uuid4()),
        "payload": {"reason": "不再需要"},
        "prev_hash": last.hash,
        "event_id": uuid.uuid4(),
    }
    fields.update(changes)
    return seal_envelope(**fields)  # type: ignore[arg-type]


def test_a_signed_event_verifies_and_its_hash_still_covers_its_content() -> None:
    env = history()[0]
    assert env.key_id == INTAKE.key_id and env.key_id.startswith("intake:")
    assert len(env.key_id) == len("intake:") + 16
    assert verify_event(env, RING, "intake") is None
    raw, parsed = parse_record(env.to_bytes())
    assert chain_hash(raw) == raw["hash"] == parsed.hash
    assert parsed.signature == env.signature and "=" not in (env.signature or "")


def test_an_unsigned_event_is_written_exactly_as_before() -> None:
    steps = grievance_script(random.Random(1), "demo/co/p01")[:1]
    [env] = decide_case(KIND, "GRV-AAAA00000001", steps, T0)
    wire = json.loads(env.to_bytes())
    assert "key_id" not in wire and "signature" not in wire


def test_the_forged_withdrawal_is_refused_however_it_is_signed() -> None:
    last = history()[-1]
    forged = withdrawn_after(last)
    where = (TOPIC, 0, 3)
    assert "no signature" in str(admit(forged, RING, "intake", where, None))
    copied = forged.model_copy(update={"key_id": last.key_id, "signature": last.signature})
    assert "does not verify under key intake:" in str(verify_event(copied, RING, "intake"))
    stranger = Signer("intake", Ed25519PrivateKey.generate())
    problem = verify_event(stranger.seal(forged), RING, "intake")
    assert "not among the keys believed" in str(problem)


def test_a_duplicated_event_with_another_body_does_not_verify() -> None:
    events = history()
    second = events[1]
    body = second.to_wire()
    body["actor"] = {**body["actor"], "user_id": "someone-else"}
    body["hash"] = chain_hash(body)
    duplicate = Envelope.model_validate(body)
    assert duplicate.event_id == second.event_id and duplicate.signature == second.signature
    assert "does not verify" in str(verify_event(duplicate, RING, "intake"))


def test_a_key_of_another_service_cannot_sign_intake_events() -> None:
    other = Signer.from_seed("mediation", subkey(MASTER, "signing/mediation"))
    ring = KeyRing.of([INTAKE.published(), other.published()])
    env = other.seal(history()[0].model_copy(update={"key_id": None, "signature": None}))
    assert "a key of mediation" in str(verify_event(env, ring, "intake"))


def test_rotation_adds_a_key_and_old_events_still_hold() -> None:
    old = history()
    newer = Signer.from_seed("intake", subkey(MASTER, "signing/intake", 2))
    assert newer.key_id != INTAKE.key_id
    ring = KeyRing.of([INTAKE.published(), newer.published()])
    fresh = newer.seal(withdrawn_after(old[-1]))
    assert all(verify_event(e, ring, "intake") is None for e in [*old, fresh])
    assert ring.ids("intake") == sorted([INTAKE.key_id, newer.key_id])


def test_pinning_keeps_only_the_keys_named_and_their_public_halves() -> None:
    stranger = Signer("intake", Ed25519PrivateKey.generate())
    ring = KeyRing.of([INTAKE.published(), stranger.published()])
    assert ring.pinned(parse_pins(INTAKE.key_id)).ids() == [INTAKE.key_id]
    pinned_half = f"{INTAKE.key_id}={INTAKE.published().to_record()['public_key']}"
    assert ring.pinned(parse_pins(f" {pinned_half} ,")).ids() == [INTAKE.key_id]
    wrong_half = f"{INTAKE.key_id}={stranger.published().to_record()['public_key']}"
    assert len(ring.pinned(parse_pins(wrong_half))) == 0


def test_a_published_key_must_be_named_by_its_own_hash() -> None:
    record = INTAKE.published().to_record()
    assert PublicKey.from_record(record) == INTAKE.published()
    assert key_id_of("intake", INTAKE.public) == INTAKE.key_id
    with pytest.raises(ValueError, match="does not name"):
        PublicKey.from_record({**record, "service": "audit"})
    with pytest.raises(ValueError, match="32 bytes"):
        PublicKey.from_record({**record, "public_key": "AAAA"})


def test_unsigned_events_are_believed_only_where_the_checkpoint_covers_them() -> None:
    steps = grievance_script(random.Random(1), "demo/co/p01")[:3]
    old = decide_case(KIND, "GRV-AAAA00000001", steps, T0)
    seen = {old[0].case_id: (2, old[1].hash)}
    covered = Coverage("audit.checkpoints/0@7", "now", {(TOPIC, 0): 3}, seen)
    assert admit(old[0], RING, "intake", (TOPIC, 0, 0), covered) is None
    assert admit(old[1], RING, "intake", (TOPIC, 0, 1), covered) is None
    past_version = admit(old[2], RING, "intake", (TOPIC, 0, 2), covered)
    assert "past the signed checkpoint at audit.checkpoints/0@7" in str(past_version)
    assert admit(old[0], RING, "intake", (TOPIC, 0, 3), covered) is not None
    assert admit(old[0], RING, "intake", (TOPIC, 1, 0), covered) is not None
    assert admit(old[0], RING, "intake", (TOPIC, 0, -1), covered) is not None


def test_a_checkpoint_covers_what_it_signed_and_nothing_once_altered(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path)
    key = checkpoint.signing_key(settings)
    body = checkpoint.build({"GRV-AAAA00000001": (2, "ab" * 32)}, {TOPIC: {0: 5}}, T0)
    value = checkpoint.sign(key, body)
    trusted = checkpoint.public_key(settings)
    covered = open_checkpoint(value, "audit.checkpoints/0@0", trusted)
    assert covered.ends == {(TOPIC, 0): 5}
    assert covered.heads == {"GRV-AAAA00000001": (2, "ab" * 32)}
    data = json.loads(value)
    data["body"]["ends"][TOPIC]["0"] = 500
    with pytest.raises(ValueError, match="does not hold"):
        open_checkpoint(json.dumps(data).encode(), "here", trusted)
    stranger = checkpoint.sign(Ed25519PrivateKey.generate(), body)
    with pytest.raises(ValueError, match="not the audit service's"):
        open_checkpoint(stranger, "here", trusted)


def test_verify_names_each_forgery_at_its_offset() -> None:
    events = history()
    last = events[-1]
    forged = withdrawn_after(last)
    copied = withdrawn_after(last).model_copy(
        update={"key_id": last.key_id, "signature": last.signature}
    )
    stranger = Signer("intake", Ed25519PrivateKey.generate()).seal(withdrawn_after(last))
    body = events[1].to_wire()
    body["payload"] = {**body["payload"], "note": "改过的"}
    body["hash"] = chain_hash(body)
    logged = [*events, forged, copied, stranger, Envelope.model_validate(body)]
    recs = [LogRecord(Position(TOPIC, 0, n), e.case_id, e.to_bytes()) for n, e in enumerate(logged)]

    def judge(env: Envelope, where: Position) -> str | None:
        return admit(env, RING, "intake", (where.topic, where.partition, where.offset), None)

    verdict = verification.verify(recs, admit=judge)
    signature = {f.position.offset: f.detail for f in verdict.findings if f.kind == "signature"}
    assert sorted(signature) == [3, 4, 5, 6]
    assert "grievance.withdrawn as version 4: carries no signature" in signature[3]
    assert "does not verify" in signature[4] and "does not verify" in signature[6]
    assert "not among the keys believed" in signature[5]
    assert verification.verify(recs[:3], admit=judge).clean


def test_outside_development_a_service_needs_its_key_file(tmp_path: Path) -> None:
    production = Settings(environment="production", jwt_secret="x" * 32, master_key="y" * 32)
    with pytest.raises(KeyMissing, match="TAIZHANG_SIGNING_KEY_FILE"):
        signer_for(production, "intake")
    development = Settings(environment="development", master_key=MASTER)
    assert signer_for(development, "intake").key_id == INTAKE.key_id
    rotated = Settings(environment="development", master_key=MASTER, signing_key_version=2)
    assert signer_for(rotated, "intake").key_id != INTAKE.key_id
    pem = tmp_path / "intake.pem"
    pem.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    from_file = Settings(
        environment="production", jwt_secret="x" * 32, master_key="y" * 32, signing_key_file=pem
    )
    assert signer_for(from_file, "intake").key_id.startswith("intake:")


def test_a_case_head_is_believed_only_as_its_decider_signed_it() -> None:
    head = {"version": 2, "hash": "ab" * 32, "state": {"status": "acknowledged"}, "answered": {}}
    stored = INTAKE.seal_head(head)
    assert admit_head("GRV-AAAA00000001", stored, RING, "intake", None) is None
    rewritten = {**stored, "state": {"status": "withdrawn"}}
    problem = admit_head("GRV-AAAA00000001", rewritten, RING, "intake", None)
    assert "does not verify" in str(problem)
    assert "no signed checkpoint" in str(admit_head("GRV-AAAA00000001", head, RING, "intake", None))
    seen = Coverage("audit.checkpoints/0@1", "now", {}, {"GRV-AAAA00000001": (2, "ab" * 32)})
    assert admit_head("GRV-AAAA00000001", head, RING, "intake", seen) is None
    moved = {**head, "version": 3}
    assert admit_head("GRV-AAAA00000001", moved, RING, "intake", seen) is not None


class CountingTrust(Trust):
    """A trust whose keys topic is a list: it counts how often it is read."""

    def __init__(self, published: list[PublicKey]) -> None:
        super().__init__(Settings(master_key=MASTER))
        self.published, self.reads = published, 0

    def refresh(self, *, checkpoint: bool) -> None:
        self.reads += 1
        self.ring, self.covered_read = KeyRing.of(self.published), True
        self._read_at = time.monotonic()


def test_a_key_published_after_the_ring_was_read_is_looked_for_at_once() -> None:
    first = history()[0]
    trust = CountingTrust([])
    trust.refresh(checkpoint=False)
    trust.published.append(INTAKE.published())
    assert trust.judge(first, TOPIC, 0, 0) is None and trust.reads == 2
    stranger = Signer("intake", Ed25519PrivateKey.generate()).seal(withdrawn_after(first))
    for _ in range(3):
        assert "not among the keys believed" in str(trust.judge(stranger, TOPIC, 0, 1))
    assert trust.reads == 3, "a made-up key id is looked for once, not every time"
