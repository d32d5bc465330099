"""A deployment of its own: the services on their own topic prefix, data folder and free ports."""

from __future__ import annotations

import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

from contracts import catalog
from services.cli import processes
from services.cli.broker import LocalBroker
from services.cli.cluster import NODES, LocalCluster
from services.common import kafka as kafka_kit
from services.common.auth import issue_token
from services.common.settings import ROOT, Settings

# Ports are picked below the range the system hands out to any socket that asks for "a
# port": a port picked for a part that starts a minute later is then not handed meanwhile
# to another deployment's part on the same machine.
PICKED_FROM = 10_000
_picked: set[int] = set()


def _handed_out_from(path: Path = Path("/proc/sys/net/ipv4/ip_local_port_range")) -> int:
    """The first port of the range the system hands out (its usual start where unknown)."""
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768


def unbound(port: int) -> bool:
    """Whether nothing on this machine holds the loopback port."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port() -> int:
    """Return a loopback port nobody listens on, picked outside the range the system hands out."""
    candidates = range(PICKED_FROM, _handed_out_from())
    # Not the shared generator: deployments started side by side may have seeded it alike.
    for port in random.SystemRandom().sample(candidates, min(200, len(candidates))):
        if port not in _picked and unbound(port):
            _picked.add(port)
            return port
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def own_broker(home: Path, say: Callable[[str], object]) -> Iterator[str]:
    """Start a broker of its own on free ports with its data under `home`; remove it afterwards."""
    node = LocalBroker(
        home=home,
        libs=ROOT / "var" / "kafka" / "libs",
        port=free_port(),
        controller_port=free_port(),
    )
    took = node.start()
    say(f"broker ready in {took:.1f}s on {node.bootstrap}")
    try:
        yield node.bootstrap
    finally:
        node.stop()
        shutil.rmtree(home, ignore_errors=True)


@contextmanager
def own_cluster(home: Path, say: Callable[[str], object]) -> Iterator[LocalCluster]:
    """Start three nodes of one cluster on free ports under `home`; remove them afterwards."""
    nodes = LocalCluster(
        home=home,
        libs=ROOT / "var" / "kafka" / "libs",
        ports=tuple(free_port() for _ in range(NODES)),
        controller_ports=tuple(free_port() for _ in range(NODES)),
    )
    took = nodes.start()
    say(f"cluster of {NODES} ready in {took:.1f}s on {nodes.bootstrap}")
    try:
        yield nodes
    finally:
        nodes.stop()
        shutil.rmtree(home, ignore_errors=True)


def halt(procs: Iterable[subprocess.Popen[bytes]]) -> None:
    """Ask every process to stop, then kill those still running after twenty seconds."""
    running = list(procs)
    for proc in running:
        proc.terminate()
    for proc in running:
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


class Deployment:
    """The services on their own topic prefix and data folder, on free ports beside others."""

    def __init__(
        self,
        bootstrap: str,
        var: Path,
        *,
        label: str,
        secret: str,
        replicas: int = 1,
        database_url: str | None = None,
    ) -> None:
        self.prefix = f"{label}{uuid.uuid4().hex[:8]}."
        self.var = var
        self.var.mkdir(parents=True, exist_ok=True)
        # What every part started from here sees; a change applies to the parts started after it.
        self.env = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TAIZHANG_TOPIC_PREFIX": self.prefix,
            "TAIZHANG_VAR_DIR": str(self.var),
            "TAIZHANG_ENVIRONMENT": "test",
            "TAIZHANG_JWT_SECRET": secret,
            "TAIZHANG_MASTER_KEY": secret,
            "TAIZHANG_TIMER_INTERVAL_S": "1",
            "TAIZHANG_REPLY_TIMEOUT_S": "30",
            "TAIZHANG_REPLICATION_FACTOR": str(replicas),
            # The local mailbox too, so deployments beside each other do not meet on 8025.
            "TAIZHANG_NOTIFY_SMTP_PORT": str(free_port()),
        }
        if database_url:
            # Its read models in schemas named by its prefix, beside other deployments' own.
            self.env["DATABASE_URL"] = database_url
        self.settings = Settings(
            kafka_bootstrap_servers=bootstrap,
            topic_prefix=self.prefix,
            var_dir=self.var,
            environment="test",
            jwt_secret=secret,
            master_key=secret,
            replication_factor=replicas,
            database_url=database_url,
        )
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.ports: dict[str, int] = {}
        kafka_kit.ensure_topics(self.settings)

    def spawn(self, service: str, part: str, replica: str = "") -> subprocess.Popen[bytes]:
        """Start one part of a service as its own process; wait for an API to be healthy.

        A named `replica` is a further instance of the part, as a second pod would be: its
        own port and its own data folder (`replicas/<name>`), the same topics and store.
        """
        instance = self._instance(service, replica)
        port = self.ports.setdefault(instance, free_port()) if part == "api" else None
        env = self.env
        if replica:
            env = {**env, "TAIZHANG_VAR_DIR": str(self.replica_dir(replica))}
        elif port is not None:
            # The portal started after it calls this API here, not the one on the usual port.
            self.env[f"TAIZHANG_{service.upper()}_URL"] = self.url(service)
        name = self.part_name(service, part, replica)
        proc = processes.spawn(self.settings, service, part, port=port, env=env, name=name)
        self.procs[name] = proc
        if part == "api":
            processes.wait_healthy(self.url(service, replica), 60, proc)
        return proc

    @staticmethod
    def _instance(service: str, replica: str) -> str:
        return f"{service}@{replica}" if replica else service

    @staticmethod
    def part_name(service: str, part: str, replica: str = "") -> str:
        """The name a part's process, pid file and log go by."""
        return f"{service}-{part}-{replica}" if replica else f"{service}-{part}"

    def replica_dir(self, replica: str) -> Path:
        """The data folder of a named replica's parts."""
        return self.var / "replicas" / replica

    def start(self, service: str) -> None:
        """Start a service: its worker (if it has one), then its API."""
        if catalog.SERVICES[service].has_worker:
            self.spawn(service, "worker")
        self.spawn(service, "api")

    def start_all(self) -> None:
        """Start every service of the registry."""
        for name in catalog.SERVICES:
            self.start(name)

    def kill(self, service: str, part: str, sig: int = signal.SIGKILL, replica: str = "") -> None:
        """Stop a part (of a named replica) abruptly (SIGKILL) or politely."""
        proc = self.procs.pop(self.part_name(service, part, replica))
        proc.send_signal(sig)
        proc.wait(timeout=30)

    def stop(self) -> None:
        """Stop every part this deployment started."""
        halt(self.procs.values())
        self.procs.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def url(self, service: str, replica: str = "") -> str:
        """Return the base address of a service's API (of a named replica's)."""
        return f"http://127.0.0.1:{self.ports[self._instance(service, replica)]}"

    def log_file(self, service: str, part: str, replica: str = "") -> Path:
        """Return the log a part of a service (of a named replica) writes."""
        return self.var / "log" / f"{self.part_name(service, part, replica)}.log"

    def token(
        self, user: str = "rep-p01", role: str = "worker_rep", unit: str = "demo/co/p01"
    ) -> str:
        """Sign a token for someone (a rep of demo/co/p01 by default)."""
        return issue_token(self.settings, user=user, role=role, unit=unit)

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run the `taizhang` command against this deployment."""
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.env, "COLUMNS": "200"},
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )
