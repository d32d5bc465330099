"""Integration fixtures: a real Kafka broker started for the session, and real service processes."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.cli.broker import LocalBroker
from services.cli.processes import wait_healthy
from services.common import kafka as kafka_kit
from services.common.auth import issue_token
from services.common.settings import ROOT, Settings
from tests.integration.polling import eventually

SECRET = "integration-test-secret-0123456789"


def free_port() -> int:
    """Return a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The broker: an existing cluster from KAFKA_BOOTSTRAP_SERVERS, or one started here."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    port = free_port()
    broker = LocalBroker(
        home=tmp_path_factory.mktemp("kafka") / f"node-{port}",
        libs=ROOT / "var" / "kafka" / "libs",
        port=port,
        controller_port=free_port(),
    )
    took = broker.start()
    print(f"\nbroker ready in {took:.1f}s on {broker.bootstrap}")
    yield broker.bootstrap
    broker.stop()
    shutil.rmtree(broker.home, ignore_errors=True)


class Stack:
    """One deployment of the services on its own topic prefix and its own data folder."""

    def __init__(self, bootstrap: str, root: Path, name: str) -> None:
        self.prefix = f"it{uuid.uuid4().hex[:8]}."
        self.var = root / name
        self.var.mkdir(parents=True, exist_ok=True)
        self.env = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TAIZHANG_TOPIC_PREFIX": self.prefix,
            "TAIZHANG_VAR_DIR": str(self.var),
            "TAIZHANG_ENVIRONMENT": "test",
            "TAIZHANG_JWT_SECRET": SECRET,
            "TAIZHANG_MASTER_KEY": SECRET,
            "TAIZHANG_TIMER_INTERVAL_S": "1",
            "TAIZHANG_REPLY_TIMEOUT_S": "30",
        }
        self.settings = Settings(
            kafka_bootstrap_servers=bootstrap,
            topic_prefix=self.prefix,
            var_dir=self.var,
            environment="test",
            jwt_secret=SECRET,
            master_key=SECRET,
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        kafka_kit.ensure_topics(self.settings)

    def spawn(self, service: str, part: str) -> subprocess.Popen[bytes]:
        """Start one part of a service as its own process."""
        args = [sys.executable, "-m", "services.cli.main", "serve", service, "--part", part]
        if part == "api":
            self.ports.setdefault(service, free_port())
            args += ["--port", str(self.ports[service])]
        with (self.var / f"{service}-{part}.log").open("ab") as log:
            proc = subprocess.Popen(
                args, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **self.env}, cwd=ROOT
            )
        self.procs[f"{service}-{part}"] = proc
        if part == "api":
            wait_healthy(self.url(service), 60, proc)
        return proc

    def start(self, service: str) -> None:
        """Start a service's worker and API."""
        self.spawn(service, "worker")
        self.spawn(service, "api")

    def kill(self, service: str, part: str, sig: int = signal.SIGKILL) -> None:
        """Stop a part abruptly (SIGKILL) or politely."""
        proc = self.procs.pop(f"{service}-{part}")
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop every process of this stack."""
        for proc in self.procs.values():
            proc.terminate()
        for proc in self.procs.values():
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self.procs.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, service: str) -> str:
        return f"http://127.0.0.1:{self.ports[service]}"

    def token(
        self, user: str = "rep-p01", role: str = "worker_rep", unit: str = "demo/co/p01"
    ) -> str:
        return issue_token(self.settings, user=user, role=role, unit=unit)

    def client(self, service: str, **identity: str) -> httpx.Client:
        """An HTTP client signed in as someone (a rep of demo/co/p01 by default)."""
        return httpx.Client(
            base_url=self.url(service),
            headers={"Authorization": f"Bearer {self.token(**identity)}"},
            timeout=60,
        )

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the `taizhang` command against this stack."""
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env, "COLUMNS": "200"},
            cwd=ROOT,
            timeout=120,
            check=False,
        )

    def log(self, service: str, part: str) -> str:
        return (self.var / f"{service}-{part}.log").read_text(errors="replace")


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
