"""The cluster's manifests hold every service, part and topic of the registry, and only settings."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Match

from contracts.catalog import SERVICES, Service
from services.cli import processes
from services.cli.manifests import FILES, rendered
from services.common import kafka as kafka_kit
from services.common.heartbeat import INTERVAL_S, Heartbeat, attach, heartbeat_file
from services.common.settings import DEFAULT_SECRET, ROOT, Settings
from tests.unit.deploy_files import PARTS, SETTINGS, documents, option, served

K8S = ROOT / "deploy" / "k8s"
Doc = dict[str, Any]
APIS = [s for s in SERVICES.values() if "api" in s.parts]
WORKERS = [s for s in SERVICES.values() if s.has_worker]


@cache
def everything() -> tuple[Doc, ...]:
    """Every document of every manifest file, the hand-written users included (read once)."""
    return tuple(d for path in sorted(K8S.glob("*.yaml")) for d in documents(path))


def of_kind(kind: str) -> list[Doc]:
    return [d for d in everything() if d["kind"] == kind]


def one(kind: str) -> Doc:
    (found,) = of_kind(kind)
    return found


def container(deployment: Doc) -> Doc:
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return dict(found)


def parts() -> dict[tuple[str, str], Doc]:
    """The Deployments by the service and part they run."""
    found: dict[tuple[str, str], Doc] = {}
    for deployment in of_kind("Deployment"):
        ran = served(container(deployment)["args"])
        assert ran is not None and ran not in found, deployment["metadata"]["name"]
        found[ran] = deployment
    return found


def test_the_checked_in_manifests_are_those_the_registry_makes() -> None:
    for name, text in rendered().items():
        assert (K8S / name).read_text(encoding="utf-8") == text, (
            f"run `taizhang manifests` ({name})"
        )
    assert set(FILES) | {"users.yaml"} == {p.name for p in K8S.glob("*.yaml")}


def test_every_api_and_worker_of_the_registry_is_deployed_once() -> None:
    assert set(parts()) == PARTS


def test_kafka_has_three_kraft_brokers_replicating_thrice_with_two_in_sync() -> None:
    pool, kafka = one("KafkaNodePool"), one("Kafka")
    assert pool["spec"]["replicas"] == 3
    assert set(pool["spec"]["roles"]) == {"controller", "broker"}
    assert pool["metadata"]["labels"]["strimzi.io/cluster"] == kafka["metadata"]["name"]
    assert kafka["metadata"]["annotations"]["strimzi.io/kraft"] == "enabled"
    config = kafka["spec"]["kafka"]["config"]
    assert config["default.replication.factor"] == 3
    assert config["min.insync.replicas"] == 2
    assert config["transaction.state.log.min.isr"] == 2


def test_every_topic_the_ledger_creates_is_declared_as_configured() -> None:
    shared = one("ConfigMap")["data"]
    partitions, replicas = (
        int(shared["TAIZHANG_PARTITIONS"]),
        int(shared["TAIZHANG_REPLICATION_FACTOR"]),
    )
    expected = kafka_kit.all_topics(Settings(partitions=partitions, replication_factor=replicas))
    declared = {t["spec"]["topicName"]: t for t in of_kind("KafkaTopic")}
    assert set(declared) == {spec.name for spec in expected}
    for topic in declared.values():
        assert topic["spec"]["partitions"] == partitions
        assert topic["spec"]["replicas"] == replicas == 3
        # No topic lowers the cluster's guarantee for itself.
        assert "min.insync.replicas" not in topic["spec"]["config"]


@pytest.mark.parametrize("service", APIS, ids=[s.name for s in APIS])
def test_each_api_is_probed_at_paths_it_serves_on_its_port(service: Service) -> None:
    deployment = parts()[(service.name, "api")]
    api = container(deployment)
    assert option(api["args"], "--host") == "0.0.0.0"
    assert api["ports"][0]["containerPort"] == service.port
    app = processes.create_app(service, Settings())
    for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
        get = api[probe]["httpGet"]
        assert get["port"] == service.port
        scope = {"type": "http", "path": get["path"], "method": "GET", "root_path": ""}
        assert any(r.matches(scope)[0] == Match.FULL for r in app.router.routes), get["path"]
    assert api["readinessProbe"]["httpGet"]["path"] == "/health"


def image_var_dir() -> Path:
    """The deployment folder the image gives every part (TAIZHANG_VAR_DIR of the Dockerfile)."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text(encoding="utf-8")
    found = re.search(r"TAIZHANG_VAR_DIR=(\S+)", dockerfile)
    assert found is not None
    return Path(found.group(1))


def probe(command: list[str]) -> int:
    """Run a probe's command as the container would, with this interpreter."""
    assert command[0] == "python"
    return subprocess.run([sys.executable, *command[1:]], capture_output=True).returncode


@pytest.mark.parametrize("service", WORKERS, ids=[s.name for s in WORKERS])
def test_each_worker_is_alive_while_the_file_its_loop_touches_is_fresh(
    service: Service, tmp_path: Path
) -> None:
    worker = container(parts()[(service.name, "worker")])
    assert "ports" not in worker and "readinessProbe" not in worker
    alive = heartbeat_file(image_var_dir(), service.name)
    startup, liveness = worker["startupProbe"], worker["livenessProbe"]
    for check in (startup, liveness):
        command = check["exec"]["command"]
        assert command[:4] == ["python", "-m", "services.common.heartbeat", str(alive)]
        # Several turns of the loop may be missed before the worker counts as stuck.
        assert float(command[4]) >= 3 * INTERVAL_S
    assert liveness["periodSeconds"] * liveness["failureThreshold"] >= float(command[4])
    assert startup["periodSeconds"] * startup["failureThreshold"] >= 600

    # The process the container runs beats into the file the probe reads.
    built = processes.create_worker(service, Settings(var_dir=tmp_path))
    beat = Heartbeat(heartbeat_file(tmp_path, service.name))
    assert attach(built, beat)
    command = [*liveness["exec"]["command"][:3], str(beat.path), command[4]]
    assert probe(command) == 1, "a worker whose loop never turned is not alive"
    beat.beat()
    assert probe(command) == 0


def test_each_api_has_a_service_a_disruption_budget_and_an_autoscaler() -> None:
    shared = one("ConfigMap")["data"]
    for (name, part), deployment in parts().items():
        if part != "api":
            continue
        app = deployment["metadata"]["name"]
        labels = deployment["spec"]["template"]["metadata"]["labels"]
        (svc,) = [s for s in of_kind("Service") if s["metadata"]["name"] == app]
        assert svc["spec"]["selector"].items() <= labels.items()
        assert svc["spec"]["ports"][0]["port"] == SERVICES[name].port
        if name != "portal":
            assert shared[f"TAIZHANG_{name.upper()}_URL"] == f"http://{app}:{SERVICES[name].port}"
        (pdb,) = [p for p in of_kind("PodDisruptionBudget") if p["metadata"]["name"] == app]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
        (hpa,) = [h for h in of_kind("HorizontalPodAutoscaler") if h["metadata"]["name"] == app]
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": app,
        }
        assert 2 <= hpa["spec"]["minReplicas"] < hpa["spec"]["maxReplicas"]


def test_every_setting_named_exists_and_secrets_are_placeholders() -> None:
    named = set(one("ConfigMap")["data"]) | set(one("Secret")["stringData"])
    for workload in [*of_kind("Deployment"), *of_kind("Job")]:
        for spec in workload["spec"]["template"]["spec"]["containers"]:
            named |= {e["name"] for e in spec.get("env", [])}
    assert named - SETTINGS == set()
    secret = one("Secret")["stringData"]
    assert set(secret) == {"TAIZHANG_JWT_SECRET", "TAIZHANG_MASTER_KEY"}
    # The committed default, which the services refuse to start with outside development.
    assert set(secret.values()) == {DEFAULT_SECRET}


def test_every_part_connects_as_a_kafka_user_and_reads_the_shared_store() -> None:
    users = {u["metadata"]["name"] for u in of_kind("KafkaUser")}
    database = one("Cluster")["metadata"]["name"]
    assert users - {"taizhang-admin"} == set(SERVICES)
    counted: Counter[str] = Counter()
    for (name, _part), deployment in parts().items():
        env = {e["name"]: e for e in container(deployment)["env"]}
        assert env["TAIZHANG_KAFKA_USERNAME"]["value"] == name
        assert env["TAIZHANG_KAFKA_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == name
        url = env["DATABASE_URL"]["valueFrom"]["secretKeyRef"]
        assert url == {"name": f"{database}-app", "key": "uri"}
        assert "limits" in container(deployment)["resources"]
        counted[name] += 1
    assert counted == Counter({s.name: len(s.parts) for s in SERVICES.values()})


def granted(user: Doc, topic: str, operation: str) -> bool:
    """Whether a Kafka user's ACLs allow an operation on a topic."""
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        if resource["type"] != "topic" or operation not in acl["operations"]:
            continue
        name, pattern = resource["name"], resource.get("patternType", "literal")
        if name == "*" or name == topic or (pattern == "prefix" and topic.startswith(name)):
            return True
    return False


def test_the_kafka_users_name_only_topics_there_are_and_read_what_they_check() -> None:
    topics = {t["spec"]["topicName"] for t in of_kind("KafkaTopic")}
    for user in of_kind("KafkaUser"):
        name = user["metadata"]["name"]
        for acl in user["spec"]["authorization"]["acls"]:
            resource = acl["resource"]
            if resource["type"] != "topic" or resource["name"] == "*":
                continue
            if resource.get("patternType") == "prefix":
                # The stream processor's own topics (its group's) are made by it, not declared.
                own = resource["name"] == f"taizhang-{name}"
                assert own or any(t.startswith(resource["name"]) for t in topics), resource
            else:
                assert resource["name"] in topics, resource
        if name in SERVICES and SERVICES[name].has_worker:
            # Every worker and read model checks signatures, and unsigned events by checkpoint.
            for topic in ("signing.keys", "audit.checkpoints", "access.revocations"):
                assert granted(user, topic, "Read"), (name, topic)
