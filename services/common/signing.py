"""Signatures on events: each service signs what its decider writes, and readers check them. Pure.

A signature covers the event's hash, and the hash covers everything else in the event, so
a signed event can be neither altered nor written by anyone without the service's key.
Events written before signing existed carry none: they are believed only where the newest
signed checkpoint covers them.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from contracts.envelope import Envelope, canonical_bytes

PREFIX = b"taizhang-event-v1:"
HEAD_PREFIX = b"taizhang-head-v1:"
# The fields that say who signed, left out of what is signed.
SIGNED_BY = ("key_id", "signature")


def signed_message(digest: str) -> bytes:
    """Return the bytes an event's signature is made over: a fixed prefix and its hash."""
    return PREFIX + digest.encode("ascii")


def head_message(head: Mapping[str, Any]) -> bytes:
    """Return the bytes a case head's signature is made over: a prefix and the head's digest."""
    body = {k: v for k, v in head.items() if k not in SIGNED_BY}
    return HEAD_PREFIX + hashlib.sha256(canonical_bytes(body)).hexdigest().encode("ascii")


def b64url(raw: bytes) -> str:
    """Encode bytes as base64url without padding."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """Decode base64url with or without padding; raise ValueError if it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise ValueError(f"not base64url: {exc}") from exc


def raw_public(key: Ed25519PublicKey) -> bytes:
    """Return a public key's 32 raw bytes."""
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id_of(service: str, public: bytes) -> str:
    """Name a service's key by the service and the start of the key's SHA-256."""
    return f"{service}:{hashlib.sha256(public).hexdigest()[:16]}"


class Signer:
    """One service's signing key: it signs the events that service's decider writes."""

    def __init__(self, service: str, private: Ed25519PrivateKey) -> None:
        self.service = service
        self._private = private
        self.public = raw_public(private.public_key())
        self.key_id = key_id_of(service, self.public)

    @classmethod
    def from_seed(cls, service: str, seed: bytes) -> Signer:
        """Build a signer from a 32-byte seed."""
        return cls(service, Ed25519PrivateKey.from_private_bytes(seed))

    @classmethod
    def from_pem(cls, service: str, pem: bytes) -> Signer:
        """Build a signer from a PKCS#8 PEM Ed25519 private key; raise ValueError otherwise."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("not an Ed25519 private key")
        return cls(service, key)

    def sign(self, message: bytes) -> bytes:
        """Return the Ed25519 signature of a message."""
        return self._private.sign(message)

    def seal(self, env: Envelope) -> Envelope:
        """Return the event with this key's id and its signature over the event's hash."""
        signature = b64url(self.sign(signed_message(env.hash)))
        return env.model_copy(update={"key_id": self.key_id, "signature": signature})

    def seal_head(self, head: Mapping[str, Any]) -> dict[str, Any]:
        """Return a case head with this key's id and its signature over the head's digest."""
        body = {k: v for k, v in head.items() if k not in SIGNED_BY}
        return {**body, "key_id": self.key_id, "signature": b64url(self.sign(head_message(body)))}

    def published(self) -> PublicKey:
        """Return the public half, as it is published."""
        return PublicKey(self.key_id, self.service, self.public)


@dataclass(frozen=True)
class PublicKey:
    """A service's public key under its key id."""

    key_id: str
    service: str
    public: bytes

    @functools.cached_property
    def verifier(self) -> Ed25519PublicKey:
        """The loaded key, made once per key rather than once per event."""
        return Ed25519PublicKey.from_public_bytes(self.public)

    def to_record(self) -> dict[str, str]:
        """Return the record published on the keys topic."""
        return {"key_id": self.key_id, "service": self.service, "public_key": b64url(self.public)}

    @classmethod
    def from_record(cls, data: Mapping[str, object]) -> PublicKey:
        """Read a published key; raise ValueError unless its id names that service and key."""
        key_id, service, text = (data.get(k) for k in ("key_id", "service", "public_key"))
        if not (isinstance(key_id, str) and isinstance(service, str) and isinstance(text, str)):
            raise ValueError("a key record needs key_id, service and public_key")
        public = unb64url(text)
        if len(public) != 32:
            raise ValueError("an Ed25519 public key has 32 bytes")
        if key_id != key_id_of(service, public):
            raise ValueError(f"key id {key_id} does not name that key of {service}")
        return cls(key_id, service, public)


def parse_pins(text: str) -> dict[str, bytes | None]:
    """Read pinned keys: `key_id` or `key_id=public_key` (base64url), comma-separated."""
    pins: dict[str, bytes | None] = {}
    for item in text.split(","):
        item = item.strip()
        if not item:
            continue
        key_id, _, public = item.partition("=")
        pins[key_id.strip()] = unb64url(public.strip()) if public.strip() else None
    return pins


@dataclass
class KeyRing:
    """The public keys a reader believes, by key id, each with the service that owns it."""

    keys: dict[str, PublicKey] = field(default_factory=dict)

    @classmethod
    def of(cls, keys: Iterable[PublicKey]) -> KeyRing:
        """Build a ring from keys."""
        return cls({k.key_id: k for k in keys})

    def add(self, key: PublicKey) -> None:
        """Add a key; keys are only ever added, so events signed before a rotation still hold."""
        self.keys[key.key_id] = key

    def get(self, key_id: str) -> PublicKey | None:
        """Return the key under an id, or None."""
        return self.keys.get(key_id)

    def ids(self, service: str | None = None) -> list[str]:
        """Return the key ids held, of one service if given."""
        return sorted(k for k, v in self.keys.items() if service is None or v.service == service)

    def pinned(self, pins: Mapping[str, bytes | None]) -> KeyRing:
        """Return the ring restricted to pinned key ids (and pinned public keys, when given)."""
        return KeyRing(
            {k: v for k, v in self.keys.items() if k in pins and pins[k] in (None, v.public)}
        )

    def __iter__(self) -> Iterator[PublicKey]:
        return iter(self.keys.values())

    def __len__(self) -> int:
        return len(self.keys)


def verify_event(env: Envelope, ring: KeyRing, service: str) -> str | None:
    """Say what is wrong with an event's signature under the service's keys; None if it holds."""
    return _verify(env.key_id, env.signature, signed_message(env.hash), ring, service)


def _verify(
    key_id: object, signature: object, message: bytes, ring: KeyRing, service: str
) -> str | None:
    if not isinstance(key_id, str) or not isinstance(signature, str):
        return "carries no signature"
    key = ring.get(key_id)
    if key is None:
        return f"signed with key {key_id}, which is not among the keys believed"
    if key.service != service:
        return f"signed with a key of {key.service}, but {service} writes these events"
    try:
        key.verifier.verify(unb64url(signature), message)
    except (ValueError, InvalidSignature):
        return f"the signature does not verify under key {key_id}"
    return None


def admit_head(
    case_id: str,
    head: Mapping[str, Any],
    ring: KeyRing,
    service: str,
    coverage: Coverage | None,
) -> str | None:
    """Say why a stored case head must not be believed; None if it may.

    A signed head must verify under the service's keys; an unsigned one, kept from before
    signing existed, only where the newest signed checkpoint saw the case at that very head.
    """
    key_id, signature = head.get("key_id"), head.get("signature")
    if key_id is not None or signature is not None:
        return _verify(key_id, signature, head_message(head), ring, service)
    seen = coverage.heads.get(case_id) if coverage is not None else None
    if seen is None or seen != (head.get("version"), head.get("hash")):
        return "an unsigned head that no signed checkpoint saw"
    return None


@dataclass(frozen=True)
class Coverage:
    """What the newest signed checkpoint covers: partitions' ends and each case's version."""

    position: str
    at: str
    ends: dict[tuple[str, int], int] = field(default_factory=dict)
    # Each case's (version, hash) as the checkpoint saw it.
    heads: dict[str, tuple[int, str]] = field(default_factory=dict)

    def covers(self, env: Envelope, topic: str, partition: int, offset: int) -> bool:
        """Whether the event lies before the checkpoint and within the version it saw."""
        end = self.ends.get((topic, partition))
        if end is None or not 0 <= offset < end:
            return False
        seen = self.heads.get(env.case_id)
        return seen is not None and env.case_version <= seen[0]


def unsigned(env: Envelope) -> bool:
    """Whether an event carries no signature at all (it was written before signing existed)."""
    return env.key_id is None and env.signature is None


def admit(
    env: Envelope,
    ring: KeyRing,
    service: str,
    where: tuple[str, int, int] | None,
    coverage: Coverage | None,
) -> str | None:
    """Say why a reader must not believe an event; None if it may.

    A signed event must verify under the service's keys. One without a signature is
    believed only where the newest signed checkpoint covers it.
    """
    if not unsigned(env):
        return verify_event(env, ring, service)
    if coverage is None:
        return "carries no signature, and no signed checkpoint covers it"
    if where is None or not coverage.covers(env, *where):
        return f"carries no signature, and lies past the signed checkpoint at {coverage.position}"
    return None


class CheckpointUnusable(ValueError):
    """A checkpoint record is unreadable or its signature does not hold."""


def open_checkpoint(value: bytes, position: str, trusted: str | None) -> Coverage:
    """Check a signed checkpoint (against the trusted key if given); return what it covers."""
    try:
        data = json.loads(value)
        body, key_text = data["body"], data["public_key"]
        signature = base64.b64decode(data["signature"])
        public = base64.b64decode(key_text)
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointUnusable(f"unreadable checkpoint: {exc}") from exc
    if trusted is not None and key_text != trusted:
        raise CheckpointUnusable("signed by a key that is not the audit service's")
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, canonical_bytes(body))
        ends = {
            (str(topic), int(p)): int(o)
            for topic, parts in body["ends"].items()
            for p, o in parts.items()
        }
        heads = {str(case): (int(v), str(h)) for case, (v, h) in body["cases"].items()}
    except (InvalidSignature, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CheckpointUnusable("the checkpoint's signature does not hold") from exc
    return Coverage(position, str(body.get("at", "")), ends, heads)
