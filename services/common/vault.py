"""Per-person data keys (AES-256-GCM) in a key vault; erasing a key erases the person's data."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import sqlite3
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from contracts.personal import ERASED, Sealed, SealedPerson
from services.common.subkeys import key_id, subkey

# Rows wrapped before keys were derived per purpose name this: the master secret's SHA-256.
LEGACY_WRAP = "sha256"
WRAP_VERSION = 1
LOOKUP_VERSION = 1
# How long a process trusts a key it read without asking the vault again, and how many it holds:
# the second guard, after the privacy topic, that an erasure elsewhere is seen within seconds.
CACHE_AGE_S = 5.0
CACHE_KEYS = 10_000


class KeyErased(LookupError):
    """The data key was destroyed: nothing more can be sealed under it."""


class VaultUnavailable(RuntimeError):
    """The vault did not answer: nothing was sealed or opened, the caller may try again."""


class KeyVault(Protocol):
    """Where data keys live; pluggable, so a hardware or cloud vault can stand in."""

    def key(self, kid: str, *, create: bool) -> bytes | None:
        """Return the data key, creating it if asked; None once erased or never made."""

    def person(self, lookup: str, earlier: str | None = None) -> str:
        """Return the person id filed under a keyed lookup, filing one if none is."""

    def known(self, lookup: str) -> str | None:
        """Return the person id filed under a keyed lookup, or None; files nothing."""

    def erase(self, kid: str) -> bool:
        """Destroy a data key and the lookups leading to it; return whether one existed."""

    def close(self) -> None:
        """Let go of the vault's connections."""


class KeyCache:
    """Data keys read lately, each trusted for a bounded age, at most a bounded number."""

    def __init__(
        self,
        max_age_s: float = CACHE_AGE_S,
        max_keys: int = CACHE_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_age_s, self.max_keys, self._clock = max_age_s, max_keys, clock
        self._keys: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def get(self, kid: str) -> bytes | None:
        """Return a key read less than the age ago, or None."""
        held = self._keys.get(kid)
        if held is None:
            return None
        if self._clock() - held[0] >= self.max_age_s:
            del self._keys[kid]
            return None
        self._keys.move_to_end(kid)
        return held[1]

    def put(self, kid: str, key: bytes) -> None:
        """Hold a key just read, dropping the least recently used beyond the bound."""
        self._keys[kid] = (self._clock(), key)
        self._keys.move_to_end(kid)
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)

    def drop(self, kid: str) -> None:
        """Forget a key at once (it was erased)."""
        self._keys.pop(kid, None)

    def __len__(self) -> int:
        return len(self._keys)


class Wrapping:
    """Data keys wrapped at rest under a key derived from the master secret, bound to their id."""

    def __init__(self, master_key: str) -> None:
        self.current = key_id("vault-wrap", WRAP_VERSION)
        self._keks = {
            LEGACY_WRAP: AESGCM(hashlib.sha256(master_key.encode()).digest()),
            self.current: AESGCM(subkey(master_key, "vault-wrap", WRAP_VERSION)),
        }

    def fresh(self, kid: str) -> bytes:
        """Make a new data key for `kid` and return it wrapped the current way."""
        nonce = os.urandom(12)
        return nonce + self._keks[self.current].encrypt(
            nonce, AESGCM.generate_key(256), kid.encode()
        )

    def unwrap(self, kid: str, blob: bytes, wrap: str) -> bytes:
        """Return the data key a wrapped blob holds."""
        return self._keks[wrap].decrypt(blob[:12], blob[12:], kid.encode())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SqliteKeyVault:
    """The embedded vault: data keys wrapped under a key derived from the master secret."""

    def __init__(self, path: Path, master_key: str, cache: KeyCache | None = None) -> None:
        self._wrapping = Wrapping(master_key)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        # First, so that every process opening the shared file at once waits its turn.
        self._db.execute("PRAGMA busy_timeout=5000")
        # Erased keys are overwritten in place, not left in free pages for a disk reader.
        self._db.execute("PRAGMA secure_delete=ON")
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS data_keys (kid TEXT PRIMARY KEY, wrapped BLOB,"
            " erased INTEGER NOT NULL DEFAULT 0)"
        )
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(data_keys)")}
        if "wrap" not in columns:
            self._db.execute(
                f"ALTER TABLE data_keys ADD COLUMN wrap TEXT NOT NULL DEFAULT '{LEGACY_WRAP}'"
            )
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS people (lookup TEXT PRIMARY KEY, person_id TEXT NOT NULL)"
        )
        self._cache = cache if cache is not None else KeyCache()

    def key(self, kid: str, *, create: bool) -> bytes | None:
        """Return the data key, creating it if asked; None once erased or never made."""
        with self._lock:
            cached = self._cache.get(kid)
            if cached is not None:
                return cached
            if create:
                self._db.execute(
                    "INSERT OR IGNORE INTO data_keys (kid, wrapped, wrap) VALUES (?, ?, ?)",
                    (kid, self._wrapping.fresh(kid), self._wrapping.current),
                )
            row = self._db.execute(
                "SELECT wrapped, wrap FROM data_keys WHERE kid = ? AND erased = 0", (kid,)
            ).fetchone()
            if row is None:
                return None
            key = self._wrapping.unwrap(kid, row[0], row[1])
            self._cache.put(kid, key)
            return key

    def person(self, lookup: str, earlier: str | None = None) -> str:
        """Return the person id filed under a keyed lookup, filing one if none is.

        The one filed is `earlier` while that id's key lives (cases from before lookups were
        filed), else a fresh random id.
        """
        with self._lock:
            live = (
                earlier
                and self._db.execute(
                    "SELECT 1 FROM data_keys WHERE kid = ? AND erased = 0", (earlier,)
                ).fetchone()
            )
            fresh = earlier if live else f"PER-{uuid.uuid4().hex[:20]}"
            self._db.execute(
                "INSERT OR IGNORE INTO people (lookup, person_id) VALUES (?, ?)", (lookup, fresh)
            )
            row = self._db.execute(
                "SELECT person_id FROM people WHERE lookup = ?", (lookup,)
            ).fetchone()
            person_id: str = row[0]
            return person_id

    def erase(self, kid: str) -> bool:
        """Destroy a data key and the lookups leading to it; return whether one existed."""
        with self._lock:
            self._cache.drop(kid)
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(
                    "UPDATE data_keys SET wrapped = NULL, erased = 1 WHERE kid = ? AND erased = 0",
                    (kid,),
                )
                existed = cur.rowcount > 0
                # A key never made is marked erased too, so it can never be made afterwards.
                marked = self._db.execute(
                    "INSERT OR IGNORE INTO data_keys (kid, wrapped, erased) VALUES (?, NULL, 1)",
                    (kid,),
                ).rowcount
                dropped = self._db.execute(
                    "DELETE FROM people WHERE person_id = ?", (kid,)
                ).rowcount
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            if existed or marked or dropped:
                # Fold the log into the file and empty it, so no old page keeps the wrapped key.
                self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return existed

    def known(self, lookup: str) -> str | None:
        """Return the person id filed under a keyed lookup, or None; files nothing."""
        with self._lock:
            row = self._db.execute(
                "SELECT person_id FROM people WHERE lookup = ?", (lookup,)
            ).fetchone()
            return None if row is None else str(row[0])

    def close(self) -> None:
        """Close the vault's file."""
        with self._lock:
            self._db.close()


class Sealer:
    """Seals and opens personal data with the vault's keys."""

    def __init__(self, vault: KeyVault, master_key: str) -> None:
        self._vault = vault
        self._lookup = subkey(master_key, "person-lookup", LOOKUP_VERSION)
        self._legacy = master_key.encode()

    @property
    def vault(self) -> KeyVault:
        """The vault the keys live in."""
        return self._vault

    def lookup(self, phone: str) -> str:
        """Return the keyed lookup of a phone number: the same for the same digits."""
        digits = "".join(ch for ch in phone if ch.isdigit())
        mac = hmac.new(self._lookup, f"phone:{digits}".encode(), hashlib.sha256).hexdigest()
        return f"{key_id('person-lookup', LOOKUP_VERSION)}:{mac}"

    def person_id(self, phone: str | None) -> str:
        """Return the random person id filed for a phone number, or a fresh one without it.

        The id is not derived from the number: once the person is erased, nothing links a
        later case from the same number to the erased ones.
        """
        if not phone:
            return f"PER-{uuid.uuid4().hex[:20]}"
        return self._vault.person(self.lookup(phone), self._earlier_id(phone))

    def known(self, phone: str) -> str | None:
        """Return the person id a phone number leads to, or None; files nothing."""
        filed = self._vault.known(self.lookup(phone))
        if filed is not None:
            return filed
        earlier = self._earlier_id(phone)
        return earlier if self._vault.key(earlier, create=False) is not None else None

    def _earlier_id(self, phone: str) -> str:
        """The id cases got before lookups were filed: an HMAC of the number itself."""
        digits = "".join(ch for ch in phone if ch.isdigit())
        mac = hmac.new(self._legacy, f"phone:{digits}".encode(), hashlib.sha256).digest()
        return f"PER-{mac.hex()[:20]}"

    def seal(self, kid: str, text: str) -> Sealed:
        """Encrypt text under the data key `kid`, binding the key id as associated data."""
        key = self._vault.key(kid, create=True)
        if key is None:
            raise KeyErased(kid)
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
