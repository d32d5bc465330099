"""Personal data sealing and erasure by key."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from contracts.personal import ERASED
from services.common.vault import Sealer, SqliteKeyVault


def test_seal_open_and_erase(tmp_path: Path) -> None:
    sealer = Sealer(SqliteKeyVault(tmp_path / "vault.sqlite", "master"), "pepper")
    person = sealer.seal_person("王小林", "138 0000 0001")
    assert "王小林" not in person.model_dump_json()
    assert sealer.open(person.name) == "王小林"
    assert sealer.erase(person.person_id)
    assert sealer.open(person.name) == ERASED
    assert sealer.open(person.phone) == ERASED


def test_same_phone_same_person_key(tmp_path: Path) -> None:
    sealer = Sealer(SqliteKeyVault(tmp_path / "vault.sqlite", "master"), "pepper")
    assert sealer.person_id("13800000001") == sealer.person_id("138-0000-0001")
    assert sealer.person_id("13800000001") != sealer.person_id("13800000002")


def test_keys_survive_a_restart_but_not_the_wrong_master_key(tmp_path: Path) -> None:
    path = tmp_path / "vault.sqlite"
    sealed = Sealer(SqliteKeyVault(path, "master"), "p").seal("PER-abcdef", "秘密")
    assert Sealer(SqliteKeyVault(path, "master"), "p").open(sealed) == "秘密"
    with pytest.raises(InvalidTag):
        Sealer(SqliteKeyVault(path, "other"), "p").open(sealed)
