"""The cluster manifests: Kafka over TLS with SCRAM users, each writing only its own topics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from contracts.catalog import STREAMS
from services.common.settings import ROOT

K8S = ROOT / "deploy" / "k8s"
WRITES = ("Write", "All")


def documents(path: Path) -> list[dict[str, Any]]:
    """Every document of a manifest file."""
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def test_kafka_listens_only_over_tls_with_scram_users_and_acls() -> None:
    (kafka,) = [d for d in documents(K8S / "kafka.yaml") if d["kind"] == "Kafka"]
    listeners = kafka["spec"]["kafka"]["listeners"]
    assert listeners and all(
        x["tls"] and x["authentication"]["type"] == "scram-sha-512" for x in listeners
    )
    assert kafka["spec"]["kafka"]["authorization"]["type"] == "simple"


def test_each_service_writes_only_its_own_streams_topics() -> None:
    users = {d["metadata"]["name"]: d for d in documents(K8S / "users.yaml")}
    extra = {"followup": {"grievance.commands", "dispute.commands"}}
    for stream in STREAMS.values():
        acls = users[stream.service]["spec"]["authorization"]["acls"]
        written = {
            (a["resource"]["name"], a["resource"].get("patternType"))
            for a in acls
            if a["resource"]["type"] == "topic" and set(a["operations"]) & set(WRITES)
        }
        others = {s for s in STREAMS if s != stream.name}
        for name, pattern in written:
            if name.startswith(f"{stream.name}.") or name.startswith(f"taizhang-{stream.service}"):
                continue
            if name in ("access.revocations", "signing.keys", *extra.get(stream.service, ())):
                continue
            # An event it cannot handle is parked beside the other stream's events.
            assert pattern == "literal" and name in {f"{o}.events.dlq" for o in others}, name


def test_the_services_connect_as_their_own_user_over_tls() -> None:
    docs = documents(K8S / "services.yaml")
    (config,) = [d for d in docs if d["kind"] == "ConfigMap"]
    assert config["data"]["TAIZHANG_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
    for deployment in (d for d in docs if d["kind"] == "Deployment"):
        (container,) = deployment["spec"]["template"]["spec"]["containers"]
        env = {e["name"]: e for e in container["env"]}
        assert env["TAIZHANG_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "password"
