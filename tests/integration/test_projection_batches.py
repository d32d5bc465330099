"""A read model fed from the real broker a batch at a time: stopped mid-batch, and rebuilt."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from contracts.envelope import Envelope
from services.common import kafka as kafka_kit
from services.common.keys import publish_key, signer_for
from services.common.projector import Projector
from services.common.readmodel import ReadModel
from services.common.readschema import Record
from services.common.settings import Settings
from services.intake.service import KIND
from services.suggestions import stats
from services.suggestions.service import KIND as SUGGESTIONS
from tests.integration.conftest import SECRET
from tests.unit.test_isolation import history

pytestmark = pytest.mark.integration

CASES = 300


def cases_table(model: ReadModel[Any]) -> list[tuple[Any, ...]]:
    """Every case row, in case order."""
    return [tuple(r) for r in model.select("SELECT * FROM cases ORDER BY case_id")]


@pytest.fixture(scope="module")
async def log(bootstrap: str) -> tuple[Settings, list[bytes]]:
    """A grievance events topic of its own: signed histories, one altered record, one repeat."""
    settings = Settings(
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=f"it{uuid.uuid4().hex[:8]}.",
        environment="test",
        jwt_secret=SECRET,
        master_key=SECRET,
    )
    # The events' topics and the published keys, which is all a projector reads.
    needed = (settings.topic("grievance."), settings.topic("signing."))
    kafka_kit.ensure_topics(
        settings, [t for t in kafka_kit.all_topics(settings) if t.name.startswith(needed)]
    )
    signer = signer_for(settings, "intake")
    await asyncio.to_thread(publish_key, settings, signer)
    envs: list[Envelope] = []
    for n in range(CASES):
        envs += history(f"GRV-BATCH{n:07d}", "acknowledge", "resolve", "close")
    values = [signer.seal(env).to_bytes() for env in envs]
    values.append(values[0].replace(b'"payload":{', b'"payload":{"x":1,', 1))
    values.append(values[1])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=5)
    await producer.start()
    topic = settings.topic("grievance.events")
    for env, value in zip(envs + envs[:2], values, strict=True):
        await producer.send(topic, key=env.case_id.encode(), value=value)
    await producer.stop()
    return settings, values


async def projected(settings: Settings, file: Path) -> tuple[ReadModel[Any], Projector]:
    """A fresh read model in its own file and its projector, started."""
    model = ReadModel(file, KIND, settings.topic("grievance.events"))
    producer = kafka_kit.producer(settings, client_id="it-projection")
    await producer.start()
    projector = Projector(settings, model, model.topics, producer, "it-projection")
    await projector.start()
    return model, projector


async def test_a_stop_waits_for_the_batch_in_flight(
    log: tuple[Settings, list[bytes]], tmp_path: Path
) -> None:
    settings, _ = log
    model, projector = await projected(settings, tmp_path / "intake.sqlite")
    deadline = time.monotonic() + 60
    while projector.applied == 0 and not projector.writing:
        assert time.monotonic() < deadline, "no batch was ever written"
        await asyncio.sleep(0.005)
    await projector.stop()
    await projector.producer.stop()
    # Closed right away: no batch is left writing the store from its thread.
    model.close()
    again = ReadModel(tmp_path / "intake.sqlite", KIND, settings.topic("grievance.events"))
    read = sum(again.offsets().values())
    events = again.select("SELECT count(*) FROM events")[0][0]
    again.close()
    # The batch in flight was written whole, with its offsets: every record it read is an
    # event row but for the altered one and the repeat.
    assert read > 0
    assert read - 2 <= events <= read


async def test_batches_rebuild_the_rows_applying_one_event_at_a_time_would(
    log: tuple[Settings, list[bytes]], tmp_path: Path
) -> None:
    settings, values = log
    model, projector = await projected(settings, tmp_path / "batched.sqlite")
    deadline = time.monotonic() + 120
    while await projector.lag() > 0:
        assert time.monotonic() < deadline, "the read model never caught up"
        await asyncio.sleep(0.2)
    await projector.stop()
    await projector.producer.stop()
    # The same records, each applied as a batch of its own.
    single = ReadModel(tmp_path / "single.sqlite", KIND, settings.topic("x"))
    for offset, value in enumerate(values):
        single.apply_batch([Record(settings.topic("x"), 0, offset, value)])
        single.commit()
    # Every record but the altered one: the repeat is applied as nothing.
    assert projector.applied == len(values) - 1
    assert model.duplicates == single.duplicates == 1
    assert len(cases_table(model)) == CASES
    assert cases_table(model) == cases_table(single)
    model.close()
    single.close()


async def test_another_services_events_gathered_apart_are_all_applied(
    log: tuple[Settings, list[bytes]], tmp_path: Path
) -> None:
    settings, values = log
    own = settings.topic("suggestion.events")
    kafka_kit.ensure_topics(settings, [t for t in kafka_kit.all_topics(settings) if t.name == own])
    grievances = settings.topic("grievance.events")
    model = ReadModel(
        tmp_path / "suggestions.sqlite",
        SUGGESTIONS,
        own,
        extra_schema=stats.SCHEMA,
        foreign={grievances: stats.GRIEVANCES},
    )
    producer = kafka_kit.producer(settings, client_id="it-projection")
    await producer.start()
    projector = Projector(settings, model, model.topics, producer, "it-gathered", waited_on={own})
    await projector.start()
    deadline = time.monotonic() + 120
    while await projector.lag() > 0:
        assert time.monotonic() < deadline, "the other service's events were never all applied"
        await asyncio.sleep(0.2)
    await projector.stop()
    await producer.stop()
    # Read by a reader of their own, every grievance event but the altered one is applied,
    # and the service's own topic is followed to its end beside them.
    assert projector.applied == len(values) - 1
    assert {t for t, _ in projector.positions} == {own, grievances}
    model.close()
