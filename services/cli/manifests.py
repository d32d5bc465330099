"""The cluster's manifests, made from the registry of services and the topics the ledger creates."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Annotated

import typer
import yaml

from services.cli.console import out
from services.cli.workloads import (
    CLUSTER,
    DATABASE,
    PARTITIONS,
    REPLICAS,
    Doc,
    meta,
    namespace,
    services,
)
from services.common import kafka as kafka_kit
from services.common.settings import ROOT, Settings

BROKERS = 3
MIN_ISR = 2


def cluster_settings() -> Settings:
    """The settings the cluster's topics are laid out with (no prefix, as users.yaml assumes)."""
    return Settings(environment="development", partitions=PARTITIONS, replication_factor=REPLICAS)


def kafka() -> list[Doc]:
    """Three brokers that are their own controllers (KRaft), each acknowledged write on two."""
    pool = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "KafkaNodePool",
        "metadata": meta("dual-role", **{"strimzi.io/cluster": CLUSTER}),
        "spec": {
            "replicas": BROKERS,
            "roles": ["controller", "broker"],
            "storage": {
                "type": "jbod",
                "volumes": [
                    {
                        "id": 0,
                        "type": "persistent-claim",
                        "size": "100Gi",
                        "deleteClaim": False,
                        "kraftMetadata": "shared",
                    }
                ],
            },
        },
    }
    named = meta(CLUSTER)
    named["annotations"] = {"strimzi.io/node-pools": "enabled", "strimzi.io/kraft": "enabled"}
    cluster = {
        "apiVersion": "kafka.strimzi.io/v1beta2",
        "kind": "Kafka",
        "metadata": named,
        "spec": {
            "kafka": {
                "version": "4.2.0",
                "listeners": [
                    {
                        "name": "tls",
                        "port": 9093,
                        "type": "internal",
                        "tls": True,
                        "authentication": {"type": "scram-sha-512"},
                    }
                ],
                "authorization": {"type": "simple"},
                "config": {
                    "default.replication.factor": REPLICAS,
                    "min.insync.replicas": MIN_ISR,
                    "offsets.topic.replication.factor": REPLICAS,
                    "transaction.state.log.replication.factor": REPLICAS,
                    "transaction.state.log.min.isr": MIN_ISR,
                    "auto.create.topics.enable": False,
                },
            },
            "entityOperator": {"topicOperator": {}, "userOperator": {}},
        },
    }
    return [
        ("The brokers: three nodes, each a controller and a broker, on volumes kept.", pool),
        (
            "The cluster: TLS and SCRAM users only (users.yaml), each user allowed only what its"
            " ACLs say; no super users. Replication 3, min.insync.replicas 2: an event"
            " acknowledged with acks=all survives the loss of a broker.",
            cluster,
        ),
    ]


def topics() -> list[Doc]:
    """One KafkaTopic for every topic the ledger creates, with its partitions and configs."""
    settings = cluster_settings()
    docs: list[Doc] = []
    for spec in kafka_kit.all_topics(settings):
        # The cluster's min.insync.replicas holds for every topic: none may lower it.
        config = {k: v for k, v in spec.config.items() if k != "min.insync.replicas"}
        body = {
            "apiVersion": "kafka.strimzi.io/v1beta2",
            "kind": "KafkaTopic",
            "metadata": meta(spec.name, **{"strimzi.io/cluster": CLUSTER}),
            "spec": {
                "topicName": spec.name,
                "partitions": settings.partitions,
                "replicas": settings.replication_factor,
                "config": config,
            },
        }
        docs.append((f"{spec.name}", body))
    return docs


def postgres() -> list[Doc]:
    """The shared store of read models and keys: three instances, one synchronous standby."""
    body = {
        "apiVersion": "postgresql.cnpg.io/v1",
        "kind": "Cluster",
        "metadata": meta(DATABASE),
        "spec": {
            "instances": 3,
            # A key is acknowledged only once a standby has it, so a failover loses none.
            "minSyncReplicas": 1,
            "maxSyncReplicas": 1,
            "storage": {"size": "50Gi"},
            "postgresql": {"parameters": {"max_connections": "400"}},
            "bootstrap": {"initdb": {"database": "taizhang", "owner": "taizhang"}},
        },
    }
    return [
        (
            f"PostgreSQL by the CloudNativePG operator. It keeps the owner's address in the Secret"
            f" {DATABASE}-app (key `uri`), which every part reads as DATABASE_URL.",
            body,
        )
    ]


FILES = {
    "00-namespace.yaml": namespace,
    "kafka.yaml": kafka,
    "topics.yaml": topics,
    "postgres.yaml": postgres,
    "services.yaml": services,
}
HEADER = (
    "# Made by `taizhang manifests` from contracts/catalog.py and the topics the ledger creates;\n"
)


def render(docs: list[Doc]) -> str:
    """One manifest file: each document after a comment saying what it is."""
    parts = []
    for comment, body in docs:
        text = "\n".join(f"# {line}" for line in textwrap.wrap(comment, 94))
        parts.append(f"{text}\n{yaml.safe_dump(body, sort_keys=False, allow_unicode=True)}")
    return HEADER + "# change those, not this file.\n---\n" + "---\n".join(parts)


def rendered() -> dict[str, str]:
    """Every generated manifest file by name."""
    return {name: render(make()) for name, make in FILES.items()}


def manifests(
    out_dir: Annotated[Path, typer.Option("--out", help="folder to write to")] = ROOT
    / "deploy"
    / "k8s",
) -> None:
    """Write the cluster's manifests (every service, part and topic of the registry)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in rendered().items():
        (out_dir / name).write_text(text, encoding="utf-8")
        out.print(f"wrote {out_dir / name}")
