"""Integration fixtures: a real Kafka broker started for the session, and real service processes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.cli.broker import collect_quietly
from services.cli.cluster import LocalCluster
from services.cli.deployment import Deployment, free_port, own_broker, own_cluster
from services.cli.postgres import own_postgres
from services.portal.guard import CSRF_COOKIE, form_token
from tests.integration.polling import eventually

SECRET = "integration-test-secret-0123456789"
# With TAIZHANG_TEST_DATABASE=postgresql every stack keeps its read models on the session's
# server (a schema per service and stack); otherwise in SQLite files of its own.
SHARED_STORE: dict[str, str] = {}


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The broker: an existing cluster from KAFKA_BOOTSTRAP_SERVERS, or one started here."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    with own_broker(tmp_path_factory.mktemp("kafka"), lambda line: print(f"\n{line}")) as address:
        yield address


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """Three brokers of one cluster started here: `.bootstrap`, and `.kill`/`.restart` a node."""
    with own_cluster(tmp_path_factory.mktemp("cluster"), lambda line: print(f"\n{line}")) as nodes:
        yield nodes
    # Clients that tried a node while it was dead leave sockets behind for the collector.
    collect_quietly()


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: an existing one from TAIZHANG_TEST_DATABASE_URL, or one started here."""
    external = os.environ.get("TAIZHANG_TEST_DATABASE_URL")
    if external:
        yield external
        return
    with own_postgres(tmp_path_factory.mktemp("postgres"), free_port()) as server:
        yield server.url


@pytest.fixture(scope="session", autouse=True)
def shared_store(request: pytest.FixtureRequest) -> None:
    """Point every stack at the session's PostgreSQL server when the tests are run against it."""
    if os.environ.get("TAIZHANG_TEST_DATABASE") == "postgresql":
        SHARED_STORE["url"] = request.getfixturevalue("postgres_url")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Leave out of the PostgreSQL run the tests that would only repeat the SQLite run."""
    if os.environ.get("TAIZHANG_TEST_DATABASE") != "postgresql":
        return
    same = [item for item in items if item.get_closest_marker("one_store")]
    if same:
        config.hook.pytest_deselected(items=same)
        items[:] = [item for item in items if not item.get_closest_marker("one_store")]


class Stack(Deployment):
    """One deployment of the services for a test, with clients signed in as anyone."""

    def __init__(
        self,
        bootstrap: str,
        root: Path,
        name: str,
        *,
        replicas: int = 1,
        database_url: str | None = None,
    ) -> None:
        super().__init__(
            bootstrap,
            root / name,
            label="it",
            secret=SECRET,
            replicas=replicas,
            database_url=database_url or SHARED_STORE.get("url"),
        )

    def client(self, service: str, replica: str = "", **identity: str) -> httpx.Client:
        """An HTTP client of an API (a named replica's) signed in as someone (a rep by default)."""
        return httpx.Client(
            base_url=self.url(service, replica),
            headers={"Authorization": f"Bearer {self.token(**identity)}"},
            timeout=60,
        )

    def csrf(self, portal: httpx.Client) -> str:
        """The token the portal's pages put in this client's forms, after a visit for the cookie."""
        portal.get("/signin")
        return form_token(self.settings, portal.cookies[CSRF_COOKIE])

    def start_portal(self) -> None:
        """Start the portal with its demo sign-in, which is for development only."""
        # The services already started stay "test"; only the portal's process sees this.
        self.env.update({"TAIZHANG_ENVIRONMENT": "development", "TAIZHANG_DEMO_SIGN_IN": "1"})
        self.spawn("portal", "api")

    def log(self, service: str, part: str) -> str:
        """Return what a part of a service has logged so far."""
        return self.log_file(service, part).read_text(errors="replace")


# A due date a year from now: well inside the years a due date may lie ahead.
DUE = (datetime.now(UTC) + timedelta(days=365)).date().isoformat()
GRIEVANCE: dict[str, Any] = {
    "unit": "demo/co/p01",
    "category": "canteen",
    "summary": "食堂菜品有待改善",
    "details": "工友反映食堂菜品单一",
    "channel": "in_person",
    "complainant": {"name": "王小林", "phone": "13800000001"},
}


def warm_up(stack: Stack, service: str = "intake") -> None:
    """Wait until the worker has joined and answers commands."""
    body = {**GRIEVANCE, "anonymous": True, "complainant": None}
    with stack.client(service) as client:
        eventually(
            lambda: client.post("/grievances", json=body),
            until=lambda response: response.status_code == 201,
            timeout=90,
            interval=1,
            what=f"the {service} worker to answer a command",
        )


@pytest.fixture(scope="session")
def stack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """The intake service, running for the whole session."""
    with Stack(bootstrap, tmp_path_factory.mktemp("stack"), "main") as s:
        s.start("intake")
        warm_up(s)
        yield s


@pytest.fixture
def rep(stack: Stack) -> Iterator[httpx.Client]:
    with stack.client("intake") as client:
        yield client
