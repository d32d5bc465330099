"""Personal data sealing and erasure by key."""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from pydantic import ValidationError

from contracts.personal import ERASED
from contracts.privacy import PersonErased
from services.common.ids import fingerprint
from services.common.privacy import ErasureBody
from services.common.subkeys import subkey
from services.common.vault import KeyCache, KeyErased, Sealer, SqliteKeyVault


@pytest.fixture
def sealer(tmp_path: Path) -> Iterator[Sealer]:
    with closing(SqliteKeyVault(tmp_path / "vault.sqlite", "master")) as vault:
        yield Sealer(vault, "pepper")


def test_seal_open_and_erase(sealer: Sealer) -> None:
    person = sealer.seal_person("王小林", "138 0000 0001")
    assert "王小林" not in person.model_dump_json()
    assert sealer.open(person.name) == "王小林"
    assert sealer.erase(person.person_id)
    assert sealer.open(person.name) == ERASED
    assert sealer.open(person.phone) == ERASED


def test_same_phone_same_person_key(sealer: Sealer) -> None:
    assert sealer.person_id("13800000001") == sealer.person_id("138-0000-0001")
    assert sealer.person_id("13800000001") == sealer.person_id("138-0000-0001")
    assert sealer.person_id("13800000001") != sealer.person_id("13800000002")


def test_keys_survive_a_restart_but_not_the_wrong_master_key(tmp_path: Path) -> None:
    path = tmp_path / "vault.sqlite"
    with closing(SqliteKeyVault(path, "master")) as vault:
        sealed = Sealer(vault, "p").seal("PER-abcdef", "秘密")
    with closing(SqliteKeyVault(path, "master")) as restarted:
        assert Sealer(restarted, "p").open(sealed) == "秘密"
    with closing(SqliteKeyVault(path, "other")) as wrong, pytest.raises(InvalidTag):
        Sealer(wrong, "p").open(sealed)


def test_a_new_case_after_erasure_gets_a_new_unlinkable_person(sealer: Sealer) -> None:
    first = sealer.seal_person("王小林", "13800000001")
    assert sealer.seal_person("王小林", "138 0000 0001").person_id == first.person_id
    assert sealer.erase(first.person_id)
    again = sealer.seal_person("王小林", "13800000001")
    assert again.person_id != first.person_id
    assert sealer.open(again.name) == "王小林"
    assert sealer.open(first.name) == ERASED
    assert sealer.known("13800000001") == again.person_id


def test_an_erased_key_is_never_made_again(sealer: Sealer) -> None:
    sealer.seal("CASE-GRV-ABCD", "细节")
    sealer.erase("CASE-GRV-ABCD")
    with pytest.raises(KeyErased):
        sealer.seal("CASE-GRV-ABCD", "更多")
    assert not sealer.erase("CASE-NEVER-MADE")
    with pytest.raises(KeyErased):
        sealer.seal("CASE-NEVER-MADE", "x")


def test_another_process_erasing_reaches_this_one_through_erase(tmp_path: Path) -> None:
    path = tmp_path / "vault.sqlite"
    # A key held an hour: the erasure reaches this process only through erase.
    held = KeyCache(max_age_s=3600)
    with (
        closing(SqliteKeyVault(path, "m", held)) as here,
        closing(SqliteKeyVault(path, "m")) as there,
    ):
        sealed = Sealer(here, "m").seal("PER-abcdef", "秘密")
        assert Sealer(here, "m").open(sealed) == "秘密"
        Sealer(there, "m").erase("PER-abcdef")
        # Until the erasure is heard, this process still holds the key in memory.
        assert Sealer(here, "m").open(sealed) == "秘密"
        here.erase("PER-abcdef")
        assert Sealer(here, "m").open(sealed) == ERASED


def test_no_copy_of_an_erased_key_stays_in_the_file(tmp_path: Path) -> None:
    path = tmp_path / "vault.sqlite"
    with closing(SqliteKeyVault(path, "m")) as vault:
        sealer = Sealer(vault, "m")
        for n in range(50):
            sealer.seal(f"PER-other{n:03d}", "x")
        person = sealer.seal_person("王小林", "13800000001")
        with closing(sqlite3.connect(path)) as db:
            wrapped = db.execute(
                "SELECT wrapped FROM data_keys WHERE kid = ?", (person.person_id,)
            ).fetchone()[0]
            lookup = sealer.lookup("13800000001")
        assert wrapped in path.read_bytes() + wal(path)
        sealer.erase(person.person_id)
        on_disk = path.read_bytes() + wal(path)
        assert wrapped not in on_disk
        assert lookup.encode() not in on_disk
        assert person.person_id.encode() in on_disk, "the tombstone stays, so it is never reused"


def wal(path: Path) -> bytes:
    log = path.with_name(path.name + "-wal")
    return log.read_bytes() if log.exists() else b""


def test_keys_wrapped_the_earlier_way_stay_readable(tmp_path: Path) -> None:
    path = tmp_path / "vault.sqlite"
    key = AESGCM.generate_key(256)
    nonce = os.urandom(12)
    legacy = AESGCM(hashlib.sha256(b"m").digest())
    with closing(sqlite3.connect(path)) as db:
        db.execute(
            "CREATE TABLE data_keys (kid TEXT PRIMARY KEY, wrapped BLOB,"
            " erased INTEGER NOT NULL DEFAULT 0)"
        )
        db.execute(
            "INSERT INTO data_keys (kid, wrapped) VALUES (?, ?)",
            ("PER-old0001", nonce + legacy.encrypt(nonce, key, b"PER-old0001")),
        )
        db.commit()
    with closing(SqliteKeyVault(path, "m")) as vault:
        assert vault.key("PER-old0001", create=False) == key
        Sealer(vault, "m").seal("PER-new0001", "x")
    with closing(sqlite3.connect(path)) as db:
        wraps = dict(db.execute("SELECT kid, wrap FROM data_keys").fetchall())
    assert wraps == {"PER-old0001": "sha256", "PER-new0001": "vault-wrap/v1"}


def test_a_phone_keeps_the_person_id_it_had_before_lookups_were_filed(tmp_path: Path) -> None:
    digest = hmac.new(b"m", b"phone:13800000001", hashlib.sha256).hexdigest()
    earlier = f"PER-{digest[:20]}"
    with closing(SqliteKeyVault(tmp_path / "vault.sqlite", "m")) as vault:
        sealer = Sealer(vault, "m")
        sealer.seal(earlier, "王小林")
        assert sealer.known("13800000001") == earlier
        assert sealer.person_id("13800000001") == earlier
        sealer.erase(earlier)
        assert sealer.person_id("13800000001") != earlier


def test_subkeys_differ_by_purpose_and_version() -> None:
    keys = {subkey("m", "vault-wrap"), subkey("m", "vault-wrap", 2), subkey("m", "fingerprint")}
    assert len(keys) == 3 and all(len(k) == 32 for k in keys)
    assert subkey("m", "vault-wrap") == subkey("m", "vault-wrap", 1)
    assert subkey("m", "vault-wrap") != hashlib.sha256(b"m").digest()


def test_fingerprints_name_their_key() -> None:
    print_ = fingerprint("m", "log", "GRV-1", {"a": 1})
    assert print_.startswith("fingerprint/v1:")
    assert print_ == fingerprint("m", "log", "GRV-1", {"a": 1})
    assert print_ != fingerprint("other", "log", "GRV-1", {"a": 1})


def test_an_erasure_names_a_key_and_a_ground_and_nothing_else() -> None:
    assert set(PersonErased.model_fields) == {
        "event_type",
        "schema_version",
        "erasure_id",
        "key_id",
        "erased_at",
        "actor",
        "reason",
    }
    with pytest.raises(ValidationError):
        ErasureBody.model_validate({"reason": "worker_request"})
    with pytest.raises(ValidationError):
        ErasureBody.model_validate(
            {"reason": "worker_request", "person_id": "PER-abcdef", "phone": "13800000001"}
        )
    with pytest.raises(ValidationError):
        ErasureBody.model_validate({"reason": "because 王小林 asked", "person_id": "PER-abcdef"})
