"""Where the key vault lives, production's refusal of a lost one, and how long keys are trusted."""

from __future__ import annotations

from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner

from contracts.personal import ERASED
from services.cli.console import EXIT_USAGE
from services.cli.main import assemble
from services.common.keystore import VaultRefused, vault_file
from services.common.pgvault import answering, schema_name
from services.common.problems import install_problem_handlers
from services.common.settings import Settings
from services.common.store import postgres_engine
from services.common.vault import KeyCache, Sealer, SqliteKeyVault

SECRETS: dict[str, Any] = {"jwt_secret": "s" * 32, "master_key": "m" * 32}
DB = "postgresql://taizhang@db:5432/taizhang"


def settings(tmp_path: Path, **given: Any) -> Settings:
    return Settings(var_dir=tmp_path, **SECRETS, **given)


def test_development_and_tests_keep_keys_in_the_data_folder(tmp_path: Path) -> None:
    for environment in ("development", "test"):
        assert vault_file(settings(tmp_path, environment=environment)) == tmp_path / "vault.sqlite"


def test_production_refuses_a_vault_nobody_named(tmp_path: Path) -> None:
    with pytest.raises(VaultRefused, match="DATABASE_URL"):
        vault_file(settings(tmp_path, environment="production"))


def test_production_takes_the_shared_database_or_a_file_named_outright(tmp_path: Path) -> None:
    assert vault_file(settings(tmp_path, environment="production", database_url=DB)) is None
    named = tmp_path / "volume" / "vault.sqlite"
    assert vault_file(settings(tmp_path, environment="production", vault_file=named)) == named


def test_production_refuses_a_relative_vault_file(tmp_path: Path) -> None:
    with pytest.raises(VaultRefused, match="absolute"):
        vault_file(settings(tmp_path, environment="production", vault_file=Path("vault.sqlite")))


def test_naming_two_vaults_is_refused_everywhere(tmp_path: Path) -> None:
    for environment in ("development", "production"):
        given = settings(
            tmp_path, environment=environment, database_url=DB, vault_file=tmp_path / "v.sqlite"
        )
        with pytest.raises(VaultRefused, match="not both"):
            vault_file(given)


def test_the_setting_is_read_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TAIZHANG_VAULT_FILE", str(tmp_path / "keys.sqlite"))
    monkeypatch.setenv("TAIZHANG_VAULT_CACHE_S", "2.5")
    read = Settings(environment="test", **SECRETS)
    assert read.vault_file == tmp_path / "keys.sqlite" and read.vault_cache_s == 2.5


def test_each_deployment_has_a_schema_of_its_own() -> None:
    assert schema_name("") == "vault"
    assert schema_name("it1a2b3c4d.") == "it1a2b3c4d_vault"
    assert schema_name("Prod-East.") == "prod_east_vault"
    assert schema_name("9x.") == "s_9x_vault"
    assert '"' not in schema_name('a"; DROP SCHEMA x; --')
    long = {schema_name("p" * 200), schema_name("p" * 201)}
    assert len(long) == 2 and all(len(name) == 63 for name in long)


def test_the_database_address_names_the_driver() -> None:
    for url in (
        DB,
        "postgres://taizhang@db:5432/taizhang",
        "postgresql+psycopg2://taizhang@db:5432/taizhang",
    ):
        engine = postgres_engine(url)
        assert engine.url.render_as_string() == "postgresql+psycopg://taizhang@db:5432/taizhang"
        engine.dispose()


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_cached_key_is_trusted_only_for_its_age() -> None:
    clock = Clock()
    cache = KeyCache(max_age_s=5.0, clock=clock)
    cache.put("PER-a", b"k")
    clock.now = 4.99
    assert cache.get("PER-a") == b"k"
    clock.now = 5.0
    assert cache.get("PER-a") is None
    assert len(cache) == 0


def test_the_cache_holds_at_most_its_bound_dropping_the_least_used() -> None:
    cache = KeyCache(max_keys=2, clock=Clock())
    cache.put("PER-a", b"a")
    cache.put("PER-b", b"b")
    assert cache.get("PER-a") == b"a"
    cache.put("PER-c", b"c")
    assert len(cache) == 2
    assert cache.get("PER-b") is None
    assert cache.get("PER-a") == b"a" and cache.get("PER-c") == b"c"


def test_an_erasure_by_another_process_reaches_this_one_once_the_key_ages_out(
    tmp_path: Path,
) -> None:
    clock = Clock()
    path = tmp_path / "vault.sqlite"
    with (
        closing(SqliteKeyVault(path, "m", KeyCache(max_age_s=5.0, clock=clock))) as here,
        closing(SqliteKeyVault(path, "m")) as there,
    ):
        sealed = Sealer(here, "m").seal("PER-abcdef", "秘密")
        Sealer(there, "m").erase("PER-abcdef")
        clock.now = 4.0
        assert Sealer(here, "m").open(sealed) == "秘密"
        clock.now = 5.0
        assert Sealer(here, "m").open(sealed) == ERASED


def test_an_age_of_zero_caches_nothing() -> None:
    cache = KeyCache(max_age_s=0.0, clock=Clock())
    cache.put("PER-a", b"a")
    assert cache.get("PER-a") is None


def test_a_service_part_refuses_to_start_in_production_on_a_vault_nobody_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "TAIZHANG_ENVIRONMENT": "production",
        "TAIZHANG_JWT_SECRET": "s" * 32,
        "TAIZHANG_MASTER_KEY": "m" * 32,
        "TAIZHANG_VAR_DIR": str(tmp_path),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.delenv("TAIZHANG_VAULT_FILE", raising=False)
    for part in ("api", "worker"):
        result = CliRunner().invoke(assemble(["serve"]), ["serve", "intake", "--part", part])
        assert result.exit_code == EXIT_USAGE
        assert "TAIZHANG_VAULT_FILE" in result.output
    assert not (tmp_path / "vault.sqlite").exists()


async def test_a_vault_that_does_not_answer_is_a_503_to_try_again() -> None:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/grievances")
    async def log() -> dict[str, str]:
        with answering():
            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
        return {}

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service") as client:
        response = await client.post("/grievances")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["Retry-After"] == "5"
    assert "send it again" in response.json()["detail"]
