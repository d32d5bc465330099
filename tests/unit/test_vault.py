"""Personal data sealing and erasure by key."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidTag

from contracts.personal import ERASED
from services.common.vault import Sealer, SqliteKeyVault


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
    assert sealer.person_id("13800000001") != sealer.person_id("13800000002")


def test_keys_survive_a_restart_but_not_the_wrong_master_key(tmp_path: Path) -> None:
    path = tmp_path / "vault.sqlite"
    with closing(SqliteKeyVault(path, "master")) as vault:
        sealed = Sealer(vault, "p").seal("PER-abcdef", "秘密")
    with closing(SqliteKeyVault(path, "master")) as restarted:
        assert Sealer(restarted, "p").open(sealed) == "秘密"
    with closing(SqliteKeyVault(path, "other")) as wrong, pytest.raises(InvalidTag):
        Sealer(wrong, "p").open(sealed)
