"""Signed tree heads: what the audit service vouches each events partition's Merkle tree was."""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from kafka import KafkaProducer
from pydantic import Field

from contracts.catalog import AUDIT_TREE_HEADS
from contracts.envelope import canonical_bytes, format_ts
from services.common.settings import Settings
from services.common.subkeys import subkey

# What a head's signature covers is prefixed, so it can never be taken for another message.
DOMAIN = b"taizhang-tree-head-v1:"
FIELDS = ("key_id", "partition", "root_hash", "timestamp", "topic", "tree_size")


Keys = dict[str, Ed25519PublicKey]


class TreeHeadError(ValueError):
    """A tree head is unreadable, signed by a key not known, or its signature does not hold."""


def b64url(data: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode base64url without padding, refusing any text that is not its canonical encoding."""
    try:
        raw = base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (ValueError, TypeError) as exc:
        raise TreeHeadError(f"not base64url: {exc}") from exc
    if b64url(raw) != text:
        raise TreeHeadError("not the canonical base64url of its bytes")
    return raw


def raw_public(key: Ed25519PublicKey) -> bytes:
    """Return the 32 raw bytes of a public key."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(service: str, key: Ed25519PublicKey) -> str:
    """Name a service's public key by the service and the start of its SHA-256."""
    return f"{service}:{hashlib.sha256(raw_public(key)).hexdigest()[:16]}"


class KeySettings(Settings):
    """The shared settings and where the audit signing key is kept."""

    # The audit signing key (PEM, PKCS#8); outside production it is derived from the master key.
    audit_key_file: Path | None = None
    # The audit public key (base64url) heads are checked with where the signing key is not kept.
    tree_head_public_key: str | None = Field(default=None, max_length=64)


def audit_keys(settings: Settings) -> Keys:
    """Return the audit service's public key by its id: the one configured, else the signer's."""
    own = KeySettings(**settings.model_dump())
    if own.tree_head_public_key:
        try:
            public = Ed25519PublicKey.from_public_bytes(unb64url(own.tree_head_public_key))
        except ValueError as exc:
            raise TreeHeadError(
                f"TAIZHANG_TREE_HEAD_PUBLIC_KEY is not a public key: {exc}"
            ) from exc
    else:
        public = audit_key(own, own.audit_key_file).public_key()
    return {key_id("audit", public): public}


def audit_key(settings: Settings, key_file: Path | None) -> Ed25519PrivateKey:
    """Return the audit service's signing key: from `key_file`, or derived outside production."""
    if key_file is not None:
        loaded = serialization.load_pem_private_key(key_file.read_bytes(), password=None)
        if not isinstance(loaded, Ed25519PrivateKey):
            raise TreeHeadError(f"{key_file} is not an Ed25519 private key")
        return loaded
    if settings.environment == "production":
        raise TreeHeadError("TAIZHANG_AUDIT_KEY_FILE must name the audit signing key in production")
    return Ed25519PrivateKey.from_private_bytes(subkey(settings.master_key, "signing/audit", 1))


@dataclass(frozen=True)
class TreeHead:
    """A signed statement: this partition's tree had this many leaves and this root."""

    topic: str
    partition: int
    tree_size: int
    root_hash: str
    timestamp: str
    key_id: str
    signature: str

    def body(self) -> dict[str, Any]:
        """Return the fields the signature covers."""
        return {name: getattr(self, name) for name in FIELDS}

    def to_wire(self) -> dict[str, Any]:
        """Return the head as published: its body and its signature."""
        return {**self.body(), "signature": self.signature}

    def value(self) -> bytes:
        """Return the record value published to the tree-heads topic."""
        return canonical_bytes(self.to_wire())

    @property
    def root(self) -> bytes:
        """The root hash as bytes."""
        return bytes.fromhex(self.root_hash)


def sign(
    key: Ed25519PrivateKey,
    *,
    topic: str,
    partition: int,
    tree_size: int,
    root: bytes,
    at: datetime,
) -> TreeHead:
    """Sign a partition's tree head with the audit key."""
    body: dict[str, Any] = {
        "key_id": key_id("audit", key.public_key()),
        "partition": partition,
        "root_hash": root.hex(),
        "timestamp": format_ts(at),
        "topic": topic,
        "tree_size": tree_size,
    }
    signature = b64url(key.sign(DOMAIN + canonical_bytes(body)))
    return TreeHead(signature=signature, **body)


def open_head(value: bytes | dict[str, Any], keys: Keys) -> TreeHead:
    """Read a published tree head and check its signature against the known keys."""
    try:
        data = json.loads(value) if isinstance(value, bytes) else dict(value)
        if not isinstance(data, dict) or set(data) != {*FIELDS, "signature"}:
            raise TreeHeadError("a tree head has exactly the fields " + ", ".join(FIELDS))
        head = TreeHead(**data)
    except (ValueError, TypeError) as exc:
        raise TreeHeadError(f"unreadable tree head: {exc}") from exc
    if not (
        isinstance(head.tree_size, int)
        and isinstance(head.partition, int)
        and head.tree_size >= 0
        and head.partition >= 0
        and isinstance(head.root_hash, str)
        and len(head.root_hash) == 64
        and all(c in "0123456789abcdef" for c in head.root_hash)
    ):
        raise TreeHeadError("a tree head's size, partition or root is malformed")
    key = keys.get(head.key_id)
    if key is None:
        raise TreeHeadError(f"signed by {head.key_id}, which is not a known audit key")
    try:
        key.verify(unb64url(head.signature), DOMAIN + canonical_bytes(head.body()))
    except InvalidSignature as exc:
        raise TreeHeadError("the signature does not match the tree head") from exc
    return head


def publish(settings: Settings, heads: list[TreeHead]) -> None:
    """Write tree heads to the tree-heads topic, keyed by their partition, acknowledged by all."""
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        acks="all",
        enable_idempotence=True,
        client_id="taizhang-audit-tree-heads",
    )
    try:
        sent = [
            producer.send(
                settings.topic(AUDIT_TREE_HEADS),
                key=f"{h.topic}/{h.partition}".encode(),
                value=h.value(),
            )
            for h in heads
        ]
        for future in sent:
            future.get(30)
    finally:
        producer.close()
