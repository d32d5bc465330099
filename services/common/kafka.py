"""Kafka plumbing shared by every service: topic layout, creation, and the durable producer."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kafka.errors import KafkaError, TopicAlreadyExistsError
from kafka.partitioner.default import murmur2

from contracts import catalog
from services.common import logging as logs
from services.common.settings import Settings

if TYPE_CHECKING:
    # The asyncio client and the admin client are loaded where they are used: a reader of
    # one case (the command line's replay) starts without them.
    from aiokafka import AIOKafkaProducer, TopicPartition
    from kafka import KafkaConsumer
    from kafka.admin import KafkaAdminClient

log = logs.get(__name__)

STREAMS = tuple(catalog.STREAMS)
FOREVER = "-1"
CHECKPOINT_MAX_BYTES = 64 * 1024 * 1024
# How long a part starting waits for topics just created to show in the metadata.
TOPIC_WAIT_S = 10.0
REVOCATIONS = "access.revocations"
# Longer than the longest lifetime a token may be issued with (a week).
REVOCATIONS_RETENTION_MS = (7 * 24 + 1) * 3_600_000
MIN_ISR = "min.insync.replicas"
# How soon a writer asks again to open its next transaction while the broker still writes
# the markers of the one before (KAFKA-5477). The client waits 20 ms, which made every
# back-to-back transaction of a decider cost 27 ms instead of 7.
NEXT_TRANSACTION_RETRY_S = 0.002
# How soon a plain reader asks again for metadata, or polls again while it has nothing to
# fetch. The client's own 100 ms, counted from its bootstrap, made every new reader wait
# that long before its first look at a topic, and a read of one case three times that.
READER_RETRY_MS = 10
# How a reader no caller waits on fetches: the broker answers once a fetch has this much,
# or after this wait. One event then wakes such a reader a few times a second at most,
# instead of every reader of its topic once per event, while a backlog still comes at once.
GATHERED_FETCH: dict[str, Any] = {"fetch_min_bytes": 256 * 1024, "fetch_max_wait_ms": 200}


@dataclass(frozen=True)
class TopicSpec:
    """One topic and the configs it is created with."""

    name: str
    config: dict[str, str] = field(default_factory=dict)


def stream_topics(settings: Settings, stream: str) -> list[TopicSpec]:
    """Return the topics one case stream uses: commands, events, replies and dead letters."""
    keep_forever = {"retention.ms": FOREVER, "retention.bytes": FOREVER, "cleanup.policy": "delete"}
    return [
        TopicSpec(settings.topic(f"{stream}.events"), keep_forever),
        TopicSpec(settings.topic(f"{stream}.events.dlq"), keep_forever),
        TopicSpec(settings.topic(f"{stream}.commands"), {"retention.ms": str(7 * 86_400_000)}),
        TopicSpec(settings.topic(f"{stream}.commands.dlq"), keep_forever),
        TopicSpec(settings.topic(f"{stream}.replies"), {"retention.ms": str(3_600_000)}),
    ]


def all_topics(settings: Settings) -> list[TopicSpec]:
    """Return every topic the system needs: streams, erasures, the audit's, keys, revocations."""
    keep_forever = {"retention.ms": FOREVER, "retention.bytes": FOREVER, "cleanup.policy": "delete"}
    return [
        *(spec for stream in STREAMS for spec in stream_topics(settings, stream)),
        # Erasures are kept forever: a process started later still learns every one.
        TopicSpec(settings.topic(catalog.PRIVACY_TOPIC), keep_forever),
        # One checkpoint names every case's chain head: megabytes once there are many cases.
        TopicSpec(
            settings.topic(catalog.AUDIT_CHECKPOINTS),
            {**keep_forever, "max.message.bytes": str(CHECKPOINT_MAX_BYTES)},
        ),
        TopicSpec(settings.topic(catalog.AUDIT_TREE_HEADS), keep_forever),
        # Each service's public keys under their ids: compacted, so every key ever used stays.
        TopicSpec(settings.topic("signing.keys"), {"cleanup.policy": "compact"}),
        # Revoked tokens: the latest word on each, kept while any token could still be used.
        TopicSpec(
            settings.topic(REVOCATIONS),
            {"cleanup.policy": "compact,delete", "retention.ms": str(REVOCATIONS_RETENTION_MS)},
        ),
    ]


def secured(settings: Settings) -> dict[str, Any]:
    """The options that connect a blocking client as this deployment's user, over TLS."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return {}
    options: dict[str, Any] = {"security_protocol": settings.kafka_security_protocol}
    if settings.kafka_ca_file is not None:
        options["ssl_cafile"] = str(settings.kafka_ca_file)
    if settings.kafka_security_protocol == "SASL_SSL":
        options |= {
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_username,
            "sasl_plain_password": settings.kafka_password,
        }
    return options


def secured_async(settings: Settings) -> dict[str, Any]:
    """The same options for an asyncio client, which takes the TLS settings as a context."""
    from aiokafka.helpers import create_ssl_context

    options = secured(settings)
    if options:
        cafile = options.pop("ssl_cafile", None)
        options["ssl_context"] = create_ssl_context(cafile=cafile)
    return options


def stream_credentials(settings: Settings) -> Any:
    """The stream processor's credentials for the broker, or None in plaintext."""
    if settings.kafka_security_protocol == "PLAINTEXT":
        return None
    from aiokafka.helpers import create_ssl_context
    from faust.auth import SASLCredentials, SSLCredentials

    context = create_ssl_context(
        cafile=str(settings.kafka_ca_file) if settings.kafka_ca_file else None
    )
    if settings.kafka_security_protocol == "SSL":
        return SSLCredentials(context)
    return SASLCredentials(
        username=settings.kafka_username,
        password=settings.kafka_password,
        ssl_context=context,
        mechanism=settings.kafka_sasl_mechanism,
    )


def admin(settings: Settings) -> KafkaAdminClient:
    """Open an admin client to the configured cluster."""
    from kafka.admin import KafkaAdminClient

    return KafkaAdminClient(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        client_id="taizhang-admin",
        request_timeout_ms=15_000,
        **secured(settings),
    )


def log_consumer(settings: Settings, **config: Any) -> KafkaConsumer:
    """Open a plain consumer of the configured cluster, quick to its first read of a topic."""
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        **secured(settings),
        **{"retry_backoff_ms": READER_RETRY_MS, "request_timeout_ms": 15_000, **config},
    )
    # The client keeps its cluster metadata to the default backoff whatever it is given.
    consumer._cluster.config["retry_backoff_ms"] = consumer.config["retry_backoff_ms"]
    return consumer


def ensure_topics(settings: Settings, specs: list[TopicSpec] | None = None) -> list[str]:
    """Create missing topics with the configured partitions and replicas; return those created.

    A topic that exists keeps what it was created with; one whose replicas or minimum of
    in-sync replicas differ from the settings is reported, and one with other partitions refused.
    """
    from kafka.admin import NewTopic

    specs = specs if specs is not None else all_topics(settings)
    client = admin(settings)
    try:
        existing = set(client.list_topics())
        missing = [s for s in specs if s.name not in existing]
        created: list[str] = []
        for spec in missing:
            try:
                client.create_topics(
                    [
                        NewTopic(
                            name=spec.name,
                            num_partitions=settings.partitions,
                            replication_factor=settings.replication_factor,
                            topic_configs={**spec.config, MIN_ISR: str(settings.min_isr)},
                        )
                    ]
                )
                created.append(spec.name)
            except TopicAlreadyExistsError:
                pass
        _check_existing(client, settings, [s.name for s in specs if s.name in existing])
        return created
    finally:
        client.close()


def _check_existing(client: KafkaAdminClient, settings: Settings, names: list[str]) -> None:
    """Refuse other partition counts (keys would land elsewhere); report other durability."""
    if not names:
        return
    described = client.describe_topics(names)
    for topic in described:
        count = len(topic["partitions"])
        if count != settings.partitions:
            raise RuntimeError(
                f"topic {topic['name']} has {count} partitions, configured {settings.partitions};"
                " case keys would move between partitions, so this is not changed automatically"
            )
    replicas = {t["name"]: min(len(p["replica_nodes"]) for p in t["partitions"]) for t in described}
    insync = _min_isr(client, names)
    for name in names:
        if (replicas[name], insync.get(name)) != (settings.replication_factor, settings.min_isr):
            # Not changed here: raising the replicas of a topic moves its data between brokers.
            log.warning(
                "topic.durability_differs",
                topic=name,
                replicas=replicas[name],
                min_insync_replicas=insync.get(name),
                configured_replicas=settings.replication_factor,
                configured_min_insync_replicas=settings.min_isr,
            )


def _min_isr(client: KafkaAdminClient, names: list[str]) -> dict[str, int]:
    """Return each topic's effective minimum of in-sync replicas, its own or the cluster's."""
    from kafka.admin import ConfigResource, ConfigResourceType

    resources = [ConfigResource(ConfigResourceType.TOPIC, name, {MIN_ISR: None}) for name in names]
    described: dict[str, Any] = client.describe_configs(resources, config_filter="all")
    found: dict[str, int] = {}
    for name, configs in described.get("topic", {}).items():
        value = configs.get(MIN_ISR, {}).get("value")
        if value is not None:
            found[name] = int(value)
    return found


def producer(settings: Settings, **overrides: object) -> AIOKafkaProducer:
    """Build the durable producer: acks from all in-sync replicas, idempotent, ordered."""
    from aiokafka import AIOKafkaProducer
    from aiokafka.producer import sender

    # The client has no option for this wait, only the constant its sender reads.
    sender.BACKOFF_OVERRIDE = NEXT_TRANSACTION_RETRY_S
    options: dict[str, object] = {
        "bootstrap_servers": settings.kafka_bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 1,
        "request_timeout_ms": 15_000,
        "client_id": "taizhang",
        **secured_async(settings),
    }
    options.update(overrides)
    return AIOKafkaProducer(**options)


def key_partition(key: str, partitions: int) -> int:
    """Return the partition the producers' default partitioner gives a key."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def partitions_of(settings: Settings, topics: list[str]) -> dict[str, list[int]]:
    """Return the partition ids of each topic (empty if it does not exist), asking once."""
    consumer = log_consumer(settings, client_id="taizhang-metadata")
    try:
        return {t: sorted(consumer.partitions_for_topic(t) or ()) for t in topics}
    finally:
        consumer.close()


async def assignable(settings: Settings, topics: list[str]) -> list[TopicPartition]:
    """Return every partition of the topics; refuse to start if one is missing."""
    from aiokafka import TopicPartition

    # A topic created a moment ago may not show in the broker's metadata yet.
    deadline = time.monotonic() + TOPIC_WAIT_S
    while True:
        found = await asyncio.to_thread(partitions_of, settings, topics)
        missing = [t for t, ids in found.items() if not ids]
        if not missing:
            return [TopicPartition(t, p) for t, ids in found.items() for p in ids]
        if time.monotonic() >= deadline:
            raise RuntimeError(f"topic {missing[0]} does not exist; create the topics first")
        await asyncio.sleep(0.5)


async def broker_reachable(settings: Settings, timeout: float = 3.0) -> bool:
    """Return whether the cluster answers a metadata request in time."""

    def probe() -> bool:
        try:
            client = admin(settings)
        except KafkaError:
            return False
        try:
            client.list_topics()
            return True
        except KafkaError:
            return False
        finally:
            client.close()

    try:
        return await asyncio.wait_for(asyncio.to_thread(probe), timeout)
    except TimeoutError:
        return False


def dead_letter_counts(settings: Settings) -> dict[str, int]:
    """Return how many records each dead-letter topic of the deployment holds now."""
    from kafka import TopicPartition as Partition

    # Here, not above: the offsets module is built on this one.
    from services.common import offsets

    consumer = log_consumer(settings, client_id="taizhang-metrics")
    try:
        topics = sorted(
            t
            for t in consumer.topics()
            if t.startswith(settings.topic_prefix) and t.endswith(".dlq")
        )
        parts = [Partition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        ends = offsets.end_offsets(consumer, parts)
        starts = offsets.beginning_offsets(consumer, parts)
        counts = dict.fromkeys(topics, 0)
        for tp in parts:
            counts[tp.topic] += ends[tp] - starts[tp]
        return counts
    finally:
        consumer.close()
