"""A local cluster of three Kafka nodes on loopback, each a broker and a voter of one quorum."""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError

from services.cli.broker import BrokerError, LocalBroker, collect_quietly, new_cluster_id

NODES = 3
# The first node's client port here; each node takes two ports, for clients and for controllers.
FIRST_PORT = 9192


def addresses(first_port: int = FIRST_PORT, nodes: int = NODES) -> str:
    """The bootstrap servers of a cluster whose nodes take every other port from `first_port`."""
    return ",".join(f"127.0.0.1:{first_port + 2 * i}" for i in range(nodes))


def client_ports(bootstrap: str) -> list[int]:
    """The ports a bootstrap list names, in its order."""
    return [int(address.rsplit(":", 1)[-1]) for address in bootstrap.split(",") if address]


@dataclass(frozen=True)
class LocalCluster:
    """Nodes that vote one another in, with a cluster id shared by all, their data under `home`.

    Node i listens for clients on `ports[i]` and for controllers on the port after it.
    """

    home: Path
    libs: Path
    ports: tuple[int, ...]
    controller_ports: tuple[int, ...] = ()
    log_dir: Path | None = None
    heap: str = "384m"

    @property
    def bootstrap(self) -> str:
        """The address list clients connect to."""
        return ",".join(node.bootstrap for node in self.nodes)

    @property
    def nodes(self) -> list[LocalBroker]:
        """Every node, by node id (1 first)."""
        controllers = self.controller_ports or tuple(port + 1 for port in self.ports)
        cluster_id = self._cluster_id()
        return [
            LocalBroker(
                home=self.home / f"node-{port}",
                libs=self.libs,
                port=port,
                controller_port=controller,
                heap=self.heap,
                log_dir=self.log_dir,
                quorum=controllers,
                cluster_id=cluster_id,
            )
            for port, controller in zip(self.ports, controllers, strict=True)
        ]

    def node(self, node_id: int) -> LocalBroker:
        """The node with this id."""
        return self.nodes[node_id - 1]

    def _cluster_id(self) -> str:
        """The id every node is formatted with: made once, kept beside the nodes' data."""
        path = self.home / f"cluster-{self.ports[0]}.id"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(new_cluster_id() + "\n")
        return path.read_text().strip()

    def start(self, timeout: float = 180.0) -> float:
        """Start every node (together: none answers before a majority runs); return the seconds."""
        began = time.monotonic()
        nodes = self.nodes
        for node in nodes:
            if node.running_pid() is None and node.answering():
                raise BrokerError(f"port {node.port} is taken by another process")
        procs = {node.port: node.launch() for node in nodes if node.running_pid() is None}
        for node in nodes:
            node.wait_ready(max(1.0, began + timeout - time.monotonic()), procs.get(node.port))
        return time.monotonic() - began

    def kill(self, node_id: int) -> None:
        """Kill one node at once, as a crash would."""
        if not self.node(node_id).kill():
            raise BrokerError(f"node {node_id} was not running")

    def restart(self, node_id: int, timeout: float = 90.0) -> float:
        """Start a stopped node again on its data; return the seconds until it answered."""
        return self.node(node_id).start(timeout)

    def stop(self) -> None:
        """Stop every node cleanly, all told at once: the last one alone could not shut down."""
        nodes = self.nodes
        for node in nodes:
            pid = node.running_pid()
            if pid is not None:
                os.kill(pid, signal.SIGTERM)
        for node in nodes:
            node.stop()

    def leader(self, topic: str, partition: int) -> int:
        """The id of the node that leads a partition now (-1 while it has none)."""
        # Asked of the nodes that run: a client that cannot reach its first address fails.
        running = ",".join(n.bootstrap for n in self.nodes if n.running_pid() is not None)
        try:
            admin = KafkaAdminClient(bootstrap_servers=running, request_timeout_ms=10_000)
        except KafkaError:
            collect_quietly()
            raise
        try:
            [described] = admin.describe_topics([topic])
        finally:
            admin.close()
            # It may have tried a node that died and is still named in the metadata.
            collect_quietly()
        for found in described["partitions"]:
            if found["partition_index"] == partition:
                return int(found["leader_id"])
        raise BrokerError(f"{topic} has no partition {partition}")
