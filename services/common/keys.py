"""Service keys: each service's signing key, the published public keys, and a reader's trust.

Every service publishes its public key on a compacted keys topic before it writes an event
with it. A reader believes the keys of that topic, restricted to the ones pinned in its
configuration (required in production), and the newest signed checkpoint for events that
were written before signing existed.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from contracts.catalog import service_of
from contracts.envelope import Envelope
from services.common import logging as logs
from services.common.kafka import CHECKPOINT_MAX_BYTES, log_consumer, secured
from services.common.offsets import end_offsets, position
from services.common.settings import Settings
from services.common.signing import (
    CheckpointUnusable,
    Coverage,
    KeyRing,
    PublicKey,
    Signer,
    admit,
    open_checkpoint,
    parse_pins,
    unsigned,
)
from services.common.subkeys import subkey

log = logs.get(__name__)
KEYS_TOPIC = "signing.keys"
CHECKPOINTS_TOPIC = "audit.checkpoints"
# How long a reader waits before it reads the keys and the checkpoint again for an event
# that names a key it does not hold, or that lies past the checkpoint it holds.
REFRESH_S = 1.0
MAX_LOOKED_FOR = 1000


class KeyMissing(RuntimeError):
    """A service has no signing key, or a reader has no pinned keys, where one is required."""


def signer_for(settings: Settings, service: str) -> Signer:
    """Return a service's signing key: from the master secret in development, else its file."""
    if settings.environment != "production":
        seed = subkey(settings.master_key, f"signing/{service}", settings.signing_key_version)
        return Signer.from_seed(service, seed)
    path = settings.signing_key_file
    if path is None or not path.exists():
        raise KeyMissing(
            f"TAIZHANG_SIGNING_KEY_FILE must name the Ed25519 private key (PEM) of {service}"
        )
    return Signer.from_pem(service, path.read_bytes())


def publish_key(settings: Settings, signer: Signer) -> None:
    """Publish a service's public key on the keys topic, once every in-sync replica has it."""
    key = signer.published()
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **secured(settings),
        acks="all",
        client_id="taizhang-keys",
    )
    try:
        value = json.dumps(key.to_record(), sort_keys=True).encode()
        producer.send(settings.topic(KEYS_TOPIC), key=key.key_id.encode(), value=value).get(30)
    finally:
        producer.close()
    log.info("signing.key_published", key_id=key.key_id)


def _consumer(settings: Settings) -> KafkaConsumer:
    return log_consumer(
        settings,
        group_id=None,
        enable_auto_commit=False,
        consumer_timeout_ms=1000,
        client_id="taizhang-keys",
        max_partition_fetch_bytes=CHECKPOINT_MAX_BYTES,
        fetch_max_bytes=CHECKPOINT_MAX_BYTES,
    )


def published_keys(settings: Settings) -> KeyRing:
    """Return every key published on the keys topic, pinned or not."""
    topic = settings.topic(KEYS_TOPIC)
    ring = KeyRing()
    consumer = _consumer(settings)
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not parts:
            return ring
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        ends = end_offsets(consumer, parts)
        remaining = {tp for tp in parts if ends[tp] > position(consumer, tp)}
        while remaining:
            for tp, msgs in consumer.poll(timeout_ms=1000, max_records=1000).items():
                for m in msgs:
                    try:
                        ring.add(PublicKey.from_record(json.loads(m.value or b"")))
                    except (ValueError, TypeError, AttributeError) as exc:
                        log.error(
                            "signing.key_refused",
                            topic=m.topic,
                            partition=m.partition,
                            offset=m.offset,
                            reason=str(exc)[:200],
                        )
                if position(consumer, tp) >= ends[tp]:
                    remaining.discard(tp)
    finally:
        consumer.close()
    return ring


def believed_keys(settings: Settings) -> KeyRing:
    """Return the keys a reader believes: those published, restricted to the pinned ones."""
    ring = published_keys(settings)
    if settings.pinned_keys.strip():
        return ring.pinned(parse_pins(settings.pinned_keys))
    if settings.environment == "production":
        raise KeyMissing("TAIZHANG_PINNED_KEYS must list the service keys readers believe")
    return ring


def audit_key(settings: Settings) -> str | None:
    """Return the audit service's public key checkpoints are checked with, if this place has it."""
    if settings.audit_public_key:
        return settings.audit_public_key
    path = settings.var_dir / "keys" / "audit-ed25519.pub"
    return path.read_text().strip() if path.exists() else None


def newest_checkpoint(settings: Settings) -> tuple[str, bytes] | None:
    """Return where the newest checkpoint record lies and its value, or None if there is none."""
    topic = settings.topic(CHECKPOINTS_TOPIC)
    consumer = _consumer(settings)
    best: tuple[str, str, bytes] | None = None
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = end_offsets(consumer, parts) if parts else {}
        for tp in parts:
            if ends[tp] == 0:
                continue
            consumer.assign([tp])
            consumer.seek(tp, ends[tp] - 1)
            records = consumer.poll(timeout_ms=5000).get(tp, [])
            if records:
                m = records[-1]
                stamp = _stamp(m.value or b"")
                if best is None or stamp > best[0]:
                    best = (stamp, f"{m.topic}/{m.partition}@{m.offset}", m.value or b"")
    finally:
        consumer.close()
    return None if best is None else (best[1], best[2])


def coverage(settings: Settings) -> Coverage | None:
    """Return what the newest checkpoint covers, if its signature holds under the audit key."""
    found = newest_checkpoint(settings)
    if found is None:
        return None
    where, value = found
    trusted = audit_key(settings)
    if trusted is None and settings.environment == "production":
        raise KeyMissing("TAIZHANG_AUDIT_PUBLIC_KEY must name the key checkpoints are signed with")
    try:
        return open_checkpoint(value, where, trusted)
    except CheckpointUnusable as exc:
        log.error("signing.checkpoint_refused", position=where, reason=str(exc))
        return None


def _stamp(value: bytes) -> str:
    try:
        return str(json.loads(value)["body"]["at"])
    except (ValueError, KeyError, TypeError):
        return ""


@dataclass
class Trust:
    """What one reader believes: the keys and the checkpoint, read again when they fall behind."""

    settings: Settings
    ring: KeyRing | None = None
    covered: Coverage | None = None
    covered_read: bool = False
    _read_at: float = 0.0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        # Key ids already looked for on the keys topic, so a forger's made-up ids cost one
        # read each at most, and only up to a bound.
        self._looked_for: set[str] = set()

    def judge(self, env: Envelope, topic: str, partition: int, offset: int) -> str | None:
        """Say why an event read at a place must not be believed; None if it may.

        A key id not held yet is looked for once straight away (its service may have just
        published it), then no more often than every REFRESH_S.
        """
        problem = self.check(env, topic, partition, offset)
        if problem is None:
            return None
        key_id = env.key_id
        fresh_key = (
            key_id is not None
            and key_id not in self._looked_for
            and len(self._looked_for) < MAX_LOOKED_FOR
        )
        if fresh_key or self.stale():
            if key_id is not None and fresh_key:
                self._looked_for.add(key_id)
            self.refresh(checkpoint=unsigned(env))
            problem = self.check(env, topic, partition, offset)
        return problem

    def check(self, env: Envelope, topic: str, partition: int, offset: int) -> str | None:
        """Judge an event with what is held now, reading keys or checkpoint only the first time."""
        if unsigned(env) and not self.covered_read:
            self.refresh(checkpoint=True)
        elif not unsigned(env) and self.ring is None:
            self.refresh(checkpoint=False)
        owner = service_of(env.case_id).name
        return admit(env, self.ring or KeyRing(), owner, (topic, partition, offset), self.covered)

    def stale(self) -> bool:
        """Whether what is held was read long enough ago to be read again."""
        return time.monotonic() - self._read_at >= REFRESH_S

    def refresh(self, *, checkpoint: bool) -> None:
        """Read the believed keys again, and the newest checkpoint when asked."""
        with self._lock:
            self.ring = believed_keys(self.settings)
            if checkpoint:
                self.covered, self.covered_read = coverage(self.settings), True
            self._read_at = time.monotonic()
