"""A local Kafka node (KRaft: broker and controller in one JVM) for `make run` and the tests."""

from __future__ import annotations

import base64
import gc
import os
import signal
import socket
import subprocess
import time
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from services.common.settings import ROOT

POM = ROOT / "deploy" / "kafka" / "pom.xml"
LOG4J = ROOT / "deploy" / "kafka" / "log4j2.yaml"
# Brokers this process started, by pid: stopping one then reaps it through its own handle.
_STARTED: dict[int, subprocess.Popen[bytes]] = {}


class BrokerError(Exception):
    """The local broker could not be fetched, formatted or started."""


def collect_quietly() -> None:
    """Collect the socket a client that could not connect left behind, without a warning."""
    # Left to the collector, it would be reported wherever the next collection happens.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


def new_cluster_id() -> str:
    """A fresh KRaft cluster id: sixteen random bytes in URL-safe base64."""
    return base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")


@dataclass(frozen=True)
class LocalBroker:
    """A broker+controller in one JVM with its data under `home`, alone or one of a quorum."""

    home: Path
    libs: Path
    port: int = 9092
    controller_port: int = 9093
    heap: str = "512m"
    log_dir: Path | None = None
    # Node ids 1, 2, … in the order of their controller ports; empty for a node on its own.
    quorum: tuple[int, ...] = ()
    # Every node of a quorum is formatted with the one cluster id; alone, a new one is made.
    cluster_id: str | None = None

    @property
    def node_id(self) -> int:
        """This node's id: its place in the quorum, counted from 1."""
        return self.quorum.index(self.controller_port) + 1 if self.quorum else 1

    @property
    def bootstrap(self) -> str:
        """The address clients connect to."""
        return f"127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "broker.pid"

    @property
    def log_file(self) -> Path:
        return (self.log_dir or self.home / "log") / f"kafka-{self.port}.log"

    def fetch(self) -> None:
        """Copy the broker jars from Maven Central into `libs` (cached after the first time)."""
        if (self.libs / ".complete").exists():
            return
        self.libs.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["mvn", "-q", "-B", "-f", str(POM), "package", f"-Dbroker.libs={self.libs.resolve()}"],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"could not fetch the broker jars:\n{result.stdout}\n{result.stderr}")
        (self.libs / ".complete").write_text("ok\n")

    def _quorum(self) -> dict[str, str]:
        """How this node finds the controllers, and how many copies the broker's own topics keep."""
        nodes = max(1, len(self.quorum))
        replicas, insync = str(min(3, nodes)), str(min(2, nodes))
        found = (
            {
                "controller.quorum.voters": ",".join(self._voters()),
                # On loopback a node that misses its heartbeats for 4s is gone: its partitions
                # get new leaders then, not after the default 9s.
                "broker.heartbeat.interval.ms": "1000",
                "broker.session.timeout.ms": "4000",
                # Fewer than the default fifty: a node restarted after a crash checks each.
                "transaction.state.log.num.partitions": "6",
            }
            if self.quorum
            else {"controller.quorum.bootstrap.servers": f"127.0.0.1:{self.controller_port}"}
        )
        return found | {
            "default.replication.factor": replicas,
            "min.insync.replicas": insync,
            "offsets.topic.replication.factor": replicas,
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": insync,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": insync,
        }

    def _voters(self) -> list[str]:
        return [f"{i}@127.0.0.1:{port}" for i, port in enumerate(self.quorum, start=1)]

    def _properties(self) -> Path:
        data = self.home / "data"
        props = self.home / "server.properties"
        lines = {
            "process.roles": "broker,controller",
            "node.id": str(self.node_id),
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "PLAINTEXT",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "log.dirs": str(data),
            "num.partitions": "6",
            "auto.create.topics.enable": "false",
            "offsets.topic.num.partitions": "6",
            **self._quorum(),
            "group.initial.rebalance.delay.ms": "0",
            "log.cleaner.dedupe.buffer.size": str(8 * 1024 * 1024),
            "log.flush.interval.messages": "9223372036854775807",
        }
        self.home.mkdir(parents=True, exist_ok=True)
        props.write_text("".join(f"{k}={v}\n" for k, v in lines.items()))
        return props

    def _java(self, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap}",
            "-Xms128m",
            "-XX:+UseSerialGC",
            f"-Dlog4j2.configurationFile={LOG4J}",
            "-cp",
            f"{self.libs}/*",
            *args,
        ]

    def format(self) -> None:
        """Format KRaft storage once; later starts reuse the data and its history."""
        props = self._properties()
        if (self.home / "data" / "meta.properties").exists():
            return
        cluster = self.cluster_id or new_cluster_id()
        # A node alone is its own quorum; the nodes of a quorum name every voter already.
        alone = [] if self.quorum else ["--standalone"]
        result = subprocess.run(
            self._java(
                "kafka.tools.StorageTool",
                "format",
                # Joined with "=": a cluster id may begin with "-" and be taken for an option.
                f"--cluster-id={cluster}",
                "-c",
                str(props),
                *alone,
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(f"could not format broker storage:\n{result.stdout}\n{result.stderr}")

    def running_pid(self) -> int | None:
        """Return the pid of the broker this home started, if it is alive."""
        try:
            pid = int(self.pid_file.read_text())
            os.kill(pid, 0)
            return pid
        except (FileNotFoundError, ValueError, ProcessLookupError, PermissionError):
            return None

    def answering(self) -> bool:
        """Return whether something accepts connections on the broker port."""
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def start(self, timeout: float = 90.0) -> float:
        """Fetch, format and start the broker; return the seconds until it answered."""
        began = time.monotonic()
        if self.running_pid():
            self.wait_ready(timeout)
            return time.monotonic() - began
        if self.answering():
            raise BrokerError(f"port {self.port} is taken by another process")
        self.wait_ready(timeout, self.launch())
        return time.monotonic() - began

    def launch(self) -> subprocess.Popen[bytes]:
        """Fetch and format if need be, and start the broker's process without waiting for it."""
        self.fetch()
        self.format()
        self.log_file.parent.mkdir(parents=True, exist_ok=True)
        with self.log_file.open("ab") as out:
            proc = subprocess.Popen(
                self._java("kafka.Kafka", str(self.home / "server.properties")),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        _STARTED[proc.pid] = proc
        self.pid_file.write_text(str(proc.pid))
        return proc

    def wait_ready(self, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
        """Wait until the broker answers a metadata request."""
        from kafka.admin import KafkaAdminClient
        from kafka.errors import KafkaError

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc is not None and proc.poll() is not None:
                raise BrokerError(f"the broker exited with {proc.returncode}; see {self.log_file}")
            if self.answering():
                try:
                    client = KafkaAdminClient(
                        bootstrap_servers=self.bootstrap, request_timeout_ms=3000
                    )
                    try:
                        client.list_topics()
                    finally:
                        client.close()
                    return
                except KafkaError:
                    collect_quietly()
            time.sleep(0.3)
        raise BrokerError(f"the broker did not answer within {timeout:.0f}s; see {self.log_file}")

    def stop(self, timeout: float = 30.0) -> bool:
        """Stop the broker cleanly (SIGTERM, then SIGKILL); return whether one was running."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if os.waitpid(pid, os.WNOHANG)[0]:
                    break
            except ChildProcessError:
                pass  # started by another process: only its exit can be observed
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        else:
            os.kill(pid, signal.SIGKILL)
        self._reap(pid, timeout)
        return True

    def kill(self, timeout: float = 30.0) -> bool:
        """Stop the broker at once (SIGKILL), as a crash would; return whether one was running."""
        pid = self.running_pid()
        if pid is None:
            return False
        os.kill(pid, signal.SIGKILL)
        self._reap(pid, timeout)
        return True

    def _reap(self, pid: int, timeout: float) -> None:
        """Collect a stopped broker this process started, and forget its pid file."""
        started = _STARTED.pop(pid, None)
        if started is not None:
            started.wait(timeout)
        self.pid_file.unlink(missing_ok=True)
