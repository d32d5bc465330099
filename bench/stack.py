"""The deployment a run measures: its own broker, every service of the registry, and the peers."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from bench.history import LOG_BODY
from bench.plan import log
from contracts import catalog
from services.cli import processes
from services.cli.broker import LocalBroker
from services.common import kafka as kafka_kit
from services.common.auth import issue_token
from services.common.settings import ROOT, Settings

SECRET = "benchmark-only-secret-0123456789"


def free_port() -> int:
    """Return a loopback port nobody listens on."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def broker(home: Path) -> Iterator[str]:
    """Start the project's own broker on free ports; stop it afterwards."""
    node = LocalBroker(
        home=home / "kafka",
        libs=ROOT / "var" / "kafka" / "libs",
        port=free_port(),
        controller_port=free_port(),
    )
    took = node.start()
    log(f"broker ready in {took:.1f}s on {node.bootstrap}")
    try:
        yield node.bootstrap
    finally:
        node.stop()


class Stack:
    """Every service on its own topic prefix and data folder, on free ports beside other runs."""

    def __init__(self, bootstrap: str, root: Path) -> None:
        self.prefix = f"bench{uuid.uuid4().hex[:8]}."
        self.var = root / "stack"
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
            # The load is what is measured: no client may be turned away for sending too much.
            "TAIZHANG_RATE_LIMIT_PER_MINUTE": str(10**9),
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
        self.peers: dict[str, subprocess.Popen[bytes]] = {}
        self.peer_ports: dict[str, int] = {}
        kafka_kit.ensure_topics(self.settings)

    def spawn(self, service: str, part: str) -> subprocess.Popen[bytes]:
        """Start one part of a service as its own process."""
        port = self.ports.setdefault(service, free_port()) if part == "api" else None
        proc = processes.spawn(self.settings, service, part, port=port, env=self.env)
        self.procs[f"{service}-{part}"] = proc
        if part == "api":
            processes.wait_healthy(self.url(service), 60, proc)
        return proc

    def start(self) -> None:
        """Start every service of the registry: its worker (if it has one), then its API."""
        for name, service in catalog.SERVICES.items():
            if service.has_worker:
                self.spawn(name, "worker")
            self.spawn(name, "api")

    def start_peer(self, name: str) -> subprocess.Popen[bytes]:
        """Start one peer endpoint in its own process, like a service's API."""
        port = free_port()
        var = self.var / f"peer-{name}"
        var.mkdir(parents=True, exist_ok=True)
        with (var / "peer.log").open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "bench.peers.apps", name, str(port)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env, "TAIZHANG_VAR_DIR": str(var)},
                cwd=ROOT,
            )
        self.peers[name] = proc
        self.peer_ports[name] = port
        processes.wait_healthy(f"http://127.0.0.1:{port}", 60, proc)
        return proc

    def stop(self) -> None:
        """Stop every process of this stack, the peers first."""
        running = [*self.peers.values(), *self.procs.values()]
        for proc in running:
            proc.terminate()
        for proc in running:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.peers.clear()
        self.procs.clear()

    def url(self, service: str) -> str:
        """Return the base address of a service's API."""
        return f"http://127.0.0.1:{self.ports[service]}"

    def log_file(self, service: str, part: str) -> Path:
        """Return the log a part of a service writes."""
        return self.var / "log" / f"{service}-{part}.log"

    def token(
        self, user: str = "rep-p01", role: str = "worker_rep", unit: str = "demo/co/p01"
    ) -> str:
        """Sign a token for someone (a rep of demo/co/p01 by default)."""
        return issue_token(self.settings, user=user, role=role, unit=unit)

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

    def warm_up(self) -> None:
        """Wait until the intake worker has joined and answers commands."""
        deadline = time.monotonic() + 90
        headers = {"Authorization": f"Bearer {self.token()}"}
        body = {**LOG_BODY, "anonymous": True, "complainant": None}
        with httpx.Client(base_url=self.url("intake"), headers=headers, timeout=60) as client:
            while time.monotonic() < deadline:
                if client.post("/grievances", json=body).status_code == 201:
                    return
                time.sleep(1)
        raise TimeoutError("the intake worker never answered")

    def wait_caught_up(self, timeout: float) -> float:
        """Wait until every service's read model has applied everything; return the seconds."""
        began = time.monotonic()
        for service in self.ports:
            while True:
                body = httpx.get(f"{self.url(service)}/health", timeout=10).json()
                # Services without a read model (the portal, the audit index) report no lag.
                if body.get("lag", 0) == 0:
                    break
                if time.monotonic() - began > timeout:
                    raise TimeoutError(f"{service} still lags {body.get('lag')} records")
                time.sleep(0.5)
        return time.monotonic() - began
