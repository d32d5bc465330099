"""The compose file and the image run every part of the registry, wired as the settings say."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from contracts.catalog import SERVICES
from services.common.settings import ROOT
from tests.unit.deploy_files import PARTS, SETTINGS, documents, option, served

COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "deploy" / "Dockerfile"
# The images' own variables, which the settings know nothing of.
IMAGES = ("kafka", "postgres")


def compose() -> dict[str, Any]:
    (found,) = documents(COMPOSE)
    return found


def taizhang() -> dict[str, dict[str, Any]]:
    """The compose services that run the ledger's image."""
    return {n: s for n, s in compose()["services"].items() if n not in IMAGES}


def serving() -> dict[tuple[str, str], str]:
    """The compose service that runs each part."""
    found: dict[tuple[str, str], str] = {}
    for name, spec in taizhang().items():
        ran = served(spec["command"])
        if ran is not None:
            assert ran not in found, f"{ran} runs twice"
            found[ran] = name
    return found


def test_every_api_and_worker_of_the_registry_runs_once() -> None:
    assert set(serving()) == PARTS
    commands = {tuple(s["command"][:1]) for s in taizhang().values()}
    assert commands == {("serve",), ("topics",)}


def test_each_api_listens_for_others_on_its_registry_port() -> None:
    services = compose()["services"]
    for (name, part), where in serving().items():
        if part != "api":
            continue
        command = services[where]["command"]
        assert option(command, "--host") == "0.0.0.0"
        assert option(command, "--port") in (None, str(SERVICES[name].port))
        assert services[where]["ports"] == [
            f"127.0.0.1:{SERVICES[name].port}:{SERVICES[name].port}"
        ]


def test_the_portal_and_every_part_find_each_api_where_it_runs() -> None:
    apis = {name: where for (name, part), where in serving().items() if part == "api"}
    for spec in taizhang().values():
        env = spec["environment"]
        for name, where in apis.items():
            if name != "portal":
                assert (
                    env[f"TAIZHANG_{name.upper()}_URL"] == f"http://{where}:{SERVICES[name].port}"
                )


def test_every_part_names_only_settings_and_shares_one_database_and_broker() -> None:
    services = compose()["services"]
    for name, spec in taizhang().items():
        env = spec["environment"]
        assert set(env) - SETTINGS == set(), name
        database = urlsplit(env["DATABASE_URL"])
        assert database.scheme == "postgresql"
        assert services[database.hostname]["image"].startswith("postgres:")
        broker = env["KAFKA_BOOTSTRAP_SERVERS"].split(":")[0]
        assert services[broker]["image"].startswith("apache/kafka:")
        assert env["TAIZHANG_REPLICATION_FACTOR"] == "1"


def test_kafka_is_kraft_and_keeps_its_log_on_a_named_volume() -> None:
    spec = compose()["services"]["kafka"]
    env = spec["environment"]
    assert "controller" in env["KAFKA_PROCESS_ROLES"]
    mounts = dict(m.split(":", 1)[::-1] for m in spec["volumes"])
    assert mounts[env["KAFKA_LOG_DIRS"]] in compose()["volumes"]
    for setting in (
        "KAFKA_DEFAULT_REPLICATION_FACTOR",
        "KAFKA_MIN_INSYNC_REPLICAS",
        "KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR",
        "KAFKA_TRANSACTION_STATE_LOG_MIN_ISR",
    ):
        assert env[setting] == 1, setting


def test_postgres_keeps_its_data_on_a_named_volume() -> None:
    spec = compose()["services"]["postgres"]
    (mount,) = spec["volumes"]
    volume, path = mount.split(":")
    assert volume in compose()["volumes"] and path == "/var/lib/postgresql/data"


def test_the_image_puts_each_configuration_file_where_its_setting_points() -> None:
    text = DOCKERFILE.read_text(encoding="utf-8").replace("\\\n", " ")
    env = dict(re.findall(r"(TAIZHANG_\w+_FILE)=(\S+)", text))
    assert set(env) == {
        "TAIZHANG_UNITS_FILE",
        "TAIZHANG_DEMO_USERS_FILE",
        "TAIZHANG_NOTIFY_DIRECTORY_FILE",
    }
    assert set(env) <= SETTINGS
    copied: set[str] = set()
    for sources, target in re.findall(r"^COPY ((?:deploy/\S+ )+)(\S+)$", text, re.M):
        for source in sources.split():
            assert (ROOT / source).is_file(), source
            copied.add(f"{target.rstrip('/')}/{source.rsplit('/', 1)[-1]}")
    assert set(env.values()) <= copied
