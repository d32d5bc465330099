"""Signed checkpoints over every case's chain head, so a case rewritten wholesale is caught."""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from kafka import KafkaProducer, TopicPartition

from contracts.envelope import canonical_bytes, format_ts
from services.audit.records import BOOTSTRAP_TIMEOUT_MS, Position
from services.common import kafka as kafka_kit
from services.common import offsets
from services.common.kafka import CHECKPOINT_MAX_BYTES
from services.common.settings import Settings

TOPIC = "audit.checkpoints"


class CheckpointError(ValueError):
    """A checkpoint is unreadable or its signature does not hold."""


def key_dir(settings: Settings) -> Path:
    """Folder of the audit service's signing key pair."""
    return settings.var_dir / "keys"


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    """Load the Ed25519 signing key, generating the pair on first use (private file 0600)."""
    folder = key_dir(settings)
    private = folder / "audit-ed25519.pem"
    if not private.exists():
        folder.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        fd = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
        (folder / "audit-ed25519.pub").write_text(public_text(key.public_key()))
    loaded = serialization.load_pem_private_key(private.read_bytes(), password=None)
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CheckpointError(f"{private} is not an Ed25519 key")
    return loaded


def public_text(key: Ed25519PublicKey) -> str:
    """Render a public key as the base64 of its 32 raw bytes."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def trusted_key(settings: Settings) -> str | None:
    """Return the audit service's public key if this machine holds it, else None."""
    path = key_dir(settings) / "audit-ed25519.pub"
    return path.read_text().strip() if path.exists() else None


def public_key(settings: Settings) -> str:
    """Return the public key auditors verify checkpoints with."""
    return public_text(signing_key(settings).public_key())


def build(
    heads: dict[str, tuple[int, str]], ends: dict[str, dict[int, int]], at: datetime
) -> dict[str, Any]:
    """Return the body of a checkpoint: every case's head, the partitions' ends, the time."""
    return {
        "at": format_ts(at),
        "cases": {case: [version, digest] for case, (version, digest) in sorted(heads.items())},
        "ends": {
            topic: {str(p): o for p, o in sorted(parts.items())} for topic, parts in ends.items()
        },
    }


def sign(key: Ed25519PrivateKey, body: dict[str, Any]) -> bytes:
    """Return the record value: the body, the signature over its canonical JSON, the key."""
    signature = key.sign(canonical_bytes(body))
    return canonical_bytes(
        {
            "body": body,
            "signature": base64.b64encode(signature).decode(),
            "public_key": public_text(key.public_key()),
        }
    )


@dataclass(frozen=True)
class Checkpoint:
    """A verified checkpoint and where it lies in the log."""

    position: Position
    at: str
    heads: dict[str, tuple[int, str]]
    public_key: str


def open_record(value: bytes, position: Position, trusted: str | None) -> Checkpoint:
    """Check a checkpoint's signature (against the trusted key if given) and return it."""
    try:
        data = json.loads(value)
        body = data["body"]
        key_text = data["public_key"]
        signature = base64.b64decode(data["signature"])
        raw_key = base64.b64decode(key_text)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"unreadable checkpoint: {exc}") from exc
    if trusted is not None and key_text != trusted:
        raise CheckpointError("signed by a key that is not the audit service's")
    try:
        Ed25519PublicKey.from_public_bytes(raw_key).verify(signature, canonical_bytes(body))
    except (InvalidSignature, ValueError) as exc:
        raise CheckpointError("the signature does not match the checkpoint's content") from exc
    heads = {case: (int(v), str(h)) for case, (v, h) in body["cases"].items()}
    return Checkpoint(position, str(body["at"]), heads, key_text)


def publish(settings: Settings, value: bytes) -> Position:
    """Write a signed checkpoint to the checkpoints topic and return where it landed."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **kafka_kit.secured(settings),
        acks="all",
        client_id="taizhang-audit-checkpoints",
        compression_type="gzip",
        max_request_size=CHECKPOINT_MAX_BYTES,
    )
    try:
        meta = producer.send(settings.topic(TOPIC), key=b"checkpoint", value=value).get(30)
        return Position(meta.topic, meta.partition, meta.offset)
    finally:
        producer.close()


def latest(settings: Settings) -> tuple[Position, bytes] | None:
    """Return the newest checkpoint record, or None if none was ever published."""
    topic = settings.topic(TOPIC)
    consumer = kafka_kit.log_consumer(
        settings,
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        client_id="taizhang-audit",
        bootstrap_timeout_ms=BOOTSTRAP_TIMEOUT_MS,
        max_partition_fetch_bytes=CHECKPOINT_MAX_BYTES,
        fetch_max_bytes=CHECKPOINT_MAX_BYTES,
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            return None
        ends = offsets.end_offsets(consumer, parts)
        best: tuple[Position, bytes] | None = None
        for tp in parts:
            if ends[tp] == 0:
                continue
            consumer.assign([tp])
            consumer.seek(tp, ends[tp] - 1)
            records = consumer.poll(timeout_ms=5000).get(tp, [])
            if records:
                m = records[-1]
                candidate = (Position(m.topic, m.partition, m.offset), m.value or b"")
                if best is None or _stamp(candidate[1]) > _stamp(best[1]):
                    best = candidate
        return best
    finally:
        consumer.close()


def _stamp(value: bytes) -> str:
    try:
        return str(json.loads(value)["body"]["at"])
    except (ValueError, KeyError, TypeError):
        return ""
