"""Per-person data keys (AES-256-GCM) in a key vault; erasing a key erases the person's data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sqlite3
import threading
import uuid
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.personal import ERASED, Sealed, SealedPerson


class KeyVault(Protocol):
    """Where data keys live; pluggable, so a hardware or cloud vault can stand in."""

    def key(self, kid: str, *, create: bool) -> bytes | None:
        """Return the data key, creating it if asked; None once erased or never made."""

    def erase(self, kid: str) -> bool:
        """Destroy a data key for good; return whether one existed."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SqliteKeyVault:
    """The embedded vault: data keys wrapped under a master key in a SQLite file."""

    def __init__(self, path: Path, master_key: str) -> None:
        self._kek = AESGCM(hashlib.sha256(master_key.encode()).digest())
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS data_keys (kid TEXT PRIMARY KEY, wrapped BLOB,"
            " erased INTEGER NOT NULL DEFAULT 0)"
        )
        self._cache: dict[str, bytes] = {}

    def key(self, kid: str, *, create: bool) -> bytes | None:
        """Return the data key, creating it if asked; None once erased or never made."""
        with self._lock:
            if kid in self._cache:
                return self._cache[kid]
            if create:
                nonce = os.urandom(12)
                wrapped = nonce + self._kek.encrypt(nonce, AESGCM.generate_key(256), kid.encode())
                self._db.execute(
                    "INSERT OR IGNORE INTO data_keys (kid, wrapped) VALUES (?, ?)", (kid, wrapped)
                )
            row = self._db.execute(
                "SELECT wrapped FROM data_keys WHERE kid = ? AND erased = 0", (kid,)
            ).fetchone()
            if row is None:
                return None
            blob: bytes = row[0]
            key = self._kek.decrypt(blob[:12], blob[12:], kid.encode())
            self._cache[kid] = key
            return key

    def erase(self, kid: str) -> bool:
        """Destroy a data key for good; return whether one existed."""
        with self._lock:
            self._cache.pop(kid, None)
            cur = self._db.execute(
                "UPDATE data_keys SET wrapped = NULL, erased = 1 WHERE kid = ? AND erased = 0",
                (kid,),
            )
            return cur.rowcount > 0

    def close(self) -> None:
        """Close the vault's file."""
        with self._lock:
            self._db.close()


class Sealer:
    """Seals and opens personal data with the vault's keys."""

    def __init__(self, vault: KeyVault, pepper: str) -> None:
        self._vault = vault
        self._pepper = pepper.encode()

    def person_id(self, phone: str | None) -> str:
        """Derive a stable pseudonymous id from a phone number, or a fresh one without it."""
        if not phone:
            return f"PER-{uuid.uuid4().hex[:20]}"
        digits = "".join(ch for ch in phone if ch.isdigit())
        mac = hmac.new(self._pepper, f"phone:{digits}".encode(), hashlib.sha256).digest()
        return f"PER-{mac.hex()[:20]}"

    def seal(self, kid: str, text: str) -> Sealed:
        """Encrypt text under the data key `kid`, binding the key id as associated data."""
        key = self._vault.key(kid, create=True)
        assert key is not None, "a data key being created cannot be missing"
        nonce = os.urandom(12)
        return Sealed(
            kid=kid,
            nonce=_b64(nonce),
            ct=_b64(AESGCM(key).encrypt(nonce, text.encode(), kid.encode())),
        )

    def open(self, sealed: Sealed | None) -> str | None:
        """Decrypt a sealed value, or return `[erased]` once its key is destroyed."""
        if sealed is None:
            return None
        key = self._vault.key(sealed.kid, create=False)
        if key is None:
            return ERASED
        return (
            AESGCM(key)
            .decrypt(_unb64(sealed.nonce), _unb64(sealed.ct), sealed.kid.encode())
            .decode()
        )

    def seal_person(self, name: str, phone: str | None) -> SealedPerson:
        """Seal a worker's name and phone under their own person key."""
        pid = self.person_id(phone)
        return SealedPerson(
            person_id=pid,
            name=self.seal(pid, name),
            phone=self.seal(pid, phone) if phone else None,
        )

    def erase(self, kid: str) -> bool:
        """Erase everything sealed under `kid` (PIPL Art. 47)."""
        return self._vault.erase(kid)
