"""The ledger's parts on the cluster: a Deployment for every API and worker of the registry."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from contracts.catalog import SERVICES, Service
from services.common.heartbeat import STALE_S, heartbeat_file
from services.common.settings import DEFAULT_SECRET

NAMESPACE = "taizhang"
CLUSTER = "taizhang"
DATABASE = "taizhang-db"
IMAGE = "taizhang:latest"
REPLICAS = 3
PARTITIONS = 12
# The only path every API answers without asking the broker: a restart mends nothing else.
LIVENESS = "/openapi.json"
READINESS = "/health"
CA = "/etc/taizhang/kafka-ca"
# The image's TAIZHANG_VAR_DIR (deploy/Dockerfile), where a worker leaves its sign of life.
VAR_DIR = Path("/var/lib/taizhang")
SIGNING = "/etc/taizhang/signing"
Doc = tuple[str, dict[str, Any]]


def meta(name: str, **labels: str) -> dict[str, Any]:
    """The metadata of one object in the ledger's namespace."""
    found: dict[str, Any] = {"name": name, "namespace": NAMESPACE}
    if labels:
        found["labels"] = labels
    return found


def _config() -> dict[str, str]:
    data = {
        "KAFKA_BOOTSTRAP_SERVERS": f"{CLUSTER}-kafka-bootstrap:9093",
        "TAIZHANG_KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "TAIZHANG_KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "TAIZHANG_KAFKA_CA_FILE": f"{CA}/ca.crt",
        "TAIZHANG_ENVIRONMENT": "production",
        "TAIZHANG_REPLICATION_FACTOR": str(REPLICAS),
        "TAIZHANG_PARTITIONS": str(PARTITIONS),
        # Public keys, filled in from the services' signing keys: empty is refused in production.
        "TAIZHANG_PINNED_KEYS": "",
        "TAIZHANG_AUDIT_PUBLIC_KEY": "",
        "TAIZHANG_PORTAL_URL": "https://taizhang.union.example",
        "TAIZHANG_NOTIFY_SMTP_HOST": "smtp.union.example",
        "TAIZHANG_NOTIFY_SMTP_PORT": "25",
        "TAIZHANG_NOTIFY_GATEWAY_URL": "https://gateway.union.example/messages",
        "TAIZHANG_NOTIFY_LOCAL": "false",
    }
    for service in SERVICES.values():
        if service.name != "portal":
            data[f"TAIZHANG_{service.name.upper()}_URL"] = f"http://{service.name}:{service.port}"
    return data


def _container(service: Service, part: str) -> dict[str, Any]:
    args = ["serve", service.name, "--part", part]
    env: list[dict[str, Any]] = [
        {"name": "TAIZHANG_KAFKA_USERNAME", "value": service.name},
        {
            "name": "TAIZHANG_KAFKA_PASSWORD",
            "valueFrom": {"secretKeyRef": {"name": service.name, "key": "password"}},
        },
        {
            "name": "DATABASE_URL",
            "valueFrom": {"secretKeyRef": {"name": f"{DATABASE}-app", "key": "uri"}},
        },
    ]
    mounts = [{"name": "kafka-ca", "mountPath": CA, "readOnly": True}]
    if service.has_worker:
        env.append({"name": "TAIZHANG_SIGNING_KEY_FILE", "value": f"{SIGNING}/key.pem"})
        mounts.append({"name": "signing", "mountPath": SIGNING, "readOnly": True})
    if service.name == "audit":
        env.append({"name": "TAIZHANG_AUDIT_KEY_FILE", "value": f"{SIGNING}/audit.pem"})
    container: dict[str, Any] = {
        "name": part,
        "image": IMAGE,
        "args": args,
        "envFrom": [{"configMapRef": {"name": NAMESPACE}}, {"secretRef": {"name": NAMESPACE}}],
        "env": env,
        "resources": {
            "requests": {"cpu": "250m", "memory": "256Mi"},
            "limits": {"memory": "512Mi"},
        },
        "volumeMounts": mounts,
    }
    if part == "api":
        args += ["--host", "0.0.0.0"]
        container["ports"] = [{"name": "http", "containerPort": service.port}]
        probe = {"port": service.port}
        container["readinessProbe"] = {
            "httpGet": {"path": READINESS, **probe},
            "periodSeconds": 5,
            "failureThreshold": 3,
        }
        # An API answers only once it has read every revocation and opened its store, which a
        # slow broker can stretch: liveness is judged only after that first answer.
        container["startupProbe"] = {
            "httpGet": {"path": LIVENESS, **probe},
            "periodSeconds": 10,
            "failureThreshold": 90,
        }
        container["livenessProbe"] = {
            "httpGet": {"path": LIVENESS, **probe},
            "periodSeconds": 10,
            "failureThreshold": 6,
        }
    else:
        container.update(_worker_probes(service))
    return container


def _worker_probes(service: Service) -> dict[str, Any]:
    """A worker is alive while its loop turns: the file it touches each turn is fresh."""
    alive = str(heartbeat_file(VAR_DIR, service.name))
    command = ["python", "-m", "services.common.heartbeat", alive, f"{STALE_S:.0f}"]

    def check(period: int, failures: int) -> dict[str, Any]:
        return {
            "exec": {"command": list(command)},
            "timeoutSeconds": 5,
            "periodSeconds": period,
            "failureThreshold": failures,
        }

    # A stream worker's timers first run once it has joined its group and recovered its
    # tables, which a slow broker can stretch as it stretches an API's start.
    return {"startupProbe": check(10, 90), "livenessProbe": check(20, 3)}


def _ca_volume() -> dict[str, Any]:
    items = [{"key": "ca.crt", "path": "ca.crt"}]
    return {
        "name": "kafka-ca",
        "secret": {"secretName": f"{CLUSTER}-cluster-ca-cert", "items": items},
    }


def _job() -> dict[str, Any]:
    container = {
        "name": "topics",
        "image": IMAGE,
        "args": ["topics"],
        "envFrom": [{"configMapRef": {"name": NAMESPACE}}, {"secretRef": {"name": NAMESPACE}}],
        "env": [
            {"name": "TAIZHANG_KAFKA_USERNAME", "value": "taizhang-admin"},
            {
                "name": "TAIZHANG_KAFKA_PASSWORD",
                "valueFrom": {"secretKeyRef": {"name": "taizhang-admin", "key": "password"}},
            },
        ],
        "volumeMounts": [{"name": "kafka-ca", "mountPath": CA, "readOnly": True}],
    }
    pod = {"restartPolicy": "OnFailure", "containers": [container], "volumes": [_ca_volume()]}
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta("taizhang-topics"),
        "spec": {"template": {"spec": pod}},
    }


def deployment(service: Service, part: str) -> dict[str, Any]:
    """One part of a service: two replicas to begin with, each its own Kafka user's."""
    name = service.name if part == "api" else f"{service.name}-{part}"
    labels = {"app": name, "taizhang/service": service.name, "taizhang/part": part}
    volumes = [_ca_volume()]
    if service.has_worker:
        volumes.append({"name": "signing", "secret": {"secretName": f"{service.name}-signing-key"}})
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(name, **labels),
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [_container(service, part)], "volumes": volumes},
            },
        },
    }


def _api_extras(service: Service) -> list[Doc]:
    name = service.name
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name),
        "spec": {
            "selector": {"app": name},
            "ports": [{"port": service.port, "targetPort": "http"}],
        },
    }
    pdb = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": meta(name),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": name}}},
    }
    cpu = {"type": "Utilization", "averageUtilization": 70}
    hpa = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(name),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": 2,
            "maxReplicas": 8,
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": cpu}}],
        },
    }
    return [
        (f"{name}'s API inside the cluster, as the other parts' TAIZHANG_*_URL name it.", svc),
        (f"A drained node never takes the last replica of {name}'s API.", pdb),
        (f"{name}'s API grows with its load; every replica reads the same store.", hpa),
    ]


def namespace() -> list[Doc]:
    """The namespace, first of all (files are applied in the order of their names)."""
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
    return [("Everything of the ledger lives in this namespace.", body)]


def services() -> list[Doc]:
    """The shared settings, the secrets, the topics job and every part of every service."""
    config = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(NAMESPACE),
        "data": _config(),
    }
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta(NAMESPACE),
        "type": "Opaque",
        "stringData": {
            "TAIZHANG_JWT_SECRET": DEFAULT_SECRET,
            "TAIZHANG_MASTER_KEY": DEFAULT_SECRET,
        },
    }
    docs: list[Doc] = [
        ("The settings every part shares; each part adds its own Kafka user.", config),
        (
            "Placeholders only: replace both from your own key management before applying. The"
            " services refuse to start in production with this committed default. Each part"
            " that signs events also mounts the Secret <service>-signing-key (key.pem; the"
            " audit's also audit.pem), made the same way.",
            secret,
        ),
        ("Checks every topic is there with the partitions configured (topics.yaml).", _job()),
    ]
    for service in SERVICES.values():
        for part in service.parts:
            what = "API" if part == "api" else "stream worker (a member of its consumer group)"
            docs.append((f"{service.name}'s {what}.", deployment(service, part)))
        docs += _api_extras(service)
    return docs
