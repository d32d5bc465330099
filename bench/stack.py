"""The deployment a run measures: every service of the registry, and the peers."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
from kafka import TopicPartition

from bench.history import LOG_BODY
from services.cli import processes
from services.cli.deployment import Deployment, free_port, halt
from services.common import kafka as kafka_kit
from services.common.settings import ROOT

SECRET = "benchmark-only-secret-0123456789"
# How long a scenario waits for the stream workers to answer what was just written.
WORKERS_WAIT_S = 900


class Stack(Deployment):
    """Every service of the registry on a deployment of its own, and the peers beside it."""

    def __init__(self, bootstrap: str, root: Path) -> None:
        super().__init__(bootstrap, root / "stack", label="bench", secret=SECRET)
        # The load is what is measured: no client may be turned away for sending too much.
        self.env["TAIZHANG_RATE_LIMIT_PER_MINUTE"] = str(10**9)
        self.peers: dict[str, subprocess.Popen[bytes]] = {}
        self.peer_ports: dict[str, int] = {}
        # The broker's process, when the run started one of its own.
        self.broker_pid: int | None = None

    def pids(self) -> dict[str, int]:
        """Return the process id of every service process, the broker's and the peers'."""
        found = {name: proc.pid for name, proc in self.procs.items()}
        if self.broker_pid is not None:
            found["broker"] = self.broker_pid
        return found | {f"peer {name}": proc.pid for name, proc in self.peers.items()}

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
        """Stop the peers, then every service."""
        halt(self.peers.values())
        self.peers.clear()
        super().stop()

    def warm_up(self) -> None:
        """Wait until the intake worker has joined and answers commands."""
        deadline = time.perf_counter() + 90
        headers = {"Authorization": f"Bearer {self.token()}"}
        body = {**LOG_BODY, "anonymous": True, "complainant": None}
        with httpx.Client(base_url=self.url("intake"), headers=headers, timeout=60) as client:
            while time.perf_counter() < deadline:
                if client.post("/grievances", json=body).status_code == 201:
                    return
                time.sleep(1)
        raise TimeoutError("the intake worker never answered")

    def wait_caught_up(self, timeout: float) -> float:
        """Wait until every service's read model has applied everything; return the seconds."""
        began = time.perf_counter()
        for service in self.ports:
            while True:
                body = httpx.get(f"{self.url(service)}/health", timeout=10).json()
                # Services without a read model (the portal, the audit index) report no lag.
                if body.get("lag", 0) == 0:
                    break
                if time.perf_counter() - began > timeout:
                    raise TimeoutError(f"{service} still lags {body.get('lag')} records")
                time.sleep(0.5)
        return time.perf_counter() - began

    def worker_lag(self) -> dict[str, int]:
        """Return how many records each stream worker's group has still to read, past markers.

        A partition a decider writes ends with its last transaction's marker, which no reader
        ever commits past: one record short of a partition's end counts as read to its end.
        """
        prefix = f"{self.settings.topic_prefix}taizhang-"
        admin = kafka_kit.admin(self.settings)
        consumer = kafka_kit.log_consumer(self.settings)
        try:
            named = (g["group_id"] for g in admin.list_groups())
            groups = sorted(g for g in named if g.startswith(prefix))
            committed = admin.list_group_offsets(groups) if groups else {}
            parts = sorted({tp for offsets in committed.values() for tp in offsets})
            ends = consumer.end_offsets([TopicPartition(tp.topic, tp.partition) for tp in parts])
        finally:
            consumer.close()
            admin.close()
        return {
            g.removeprefix(prefix): sum(
                max(0, ends.get(tp, 0) - at.offset - 1) for tp, at in offsets.items()
            )
            for g, offsets in committed.items()
        }

    def wait_workers(self, timeout: float) -> tuple[float, dict[str, int]]:
        """Wait until every stream worker has answered what is on the log; return the seconds.

        Also returns what each worker still had to read when the wait ran out (nothing when
        they caught up), so a scenario that follows knows whether it shared the machine.
        """
        began = time.perf_counter()
        while True:
            lag = {name: left for name, left in self.worker_lag().items() if left}
            if not lag or time.perf_counter() - began > timeout:
                return time.perf_counter() - began, lag
            time.sleep(2)
