"""Gauges read when /metrics is asked: records parked in dead letters, cases set aside."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from services.common import kafka as kafka_kit
from services.common import logging as logs
from services.common.context import ServiceContext
from services.common.settings import Settings

log = logs.get(__name__)
# A scrape must answer even when the broker does not; the dead letters are left out then.
COUNT_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Gauge:
    """One value of one gauge, with its labels."""

    name: str
    help: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)


class _Read(Collector):
    def __init__(self, gauges: Sequence[Gauge]) -> None:
        self.gauges = gauges

    def collect(self) -> Iterable[Metric]:
        families: dict[str, GaugeMetricFamily] = {}
        for gauge in self.gauges:
            family = families.get(gauge.name)
            if family is None:
                family = GaugeMetricFamily(gauge.name, gauge.help, labels=list(gauge.labels))
                families[gauge.name] = family
            family.add_metric(list(gauge.labels.values()), gauge.value)
        return list(families.values())


def render(gauges: Sequence[Gauge]) -> bytes:
    """Return the gauges in the Prometheus text format."""
    registry = CollectorRegistry()
    registry.register(_Read(gauges))
    return generate_latest(registry)


async def dead_letters(settings: Settings) -> list[Gauge]:
    """Records parked in each dead-letter topic of the deployment (none if the broker is away).

    A record is parked beside the topic it was read from, which is often another service's
    stream (a follow-up policy parks grievance events), so every service shows them all.
    """
    try:
        counts = await asyncio.wait_for(
            asyncio.to_thread(kafka_kit.dead_letter_counts, settings), COUNT_TIMEOUT_S
        )
    except Exception as exc:  # the broker: the scrape still answers, without these
        log.warning("metrics.dead_letters_unknown", error=str(exc)[:200])
        return []
    return [
        Gauge(
            "taizhang_dead_letters",
            "Records parked in a dead-letter topic because they could not be processed",
            count,
            {"topic": topic},
        )
        for topic, count in counts.items()
    ]


async def isolation(ctx: ServiceContext) -> list[Gauge]:
    """The dead letters, and the cases this service's read model quarantined."""
    quarantined = Gauge(
        "taizhang_quarantined_cases",
        "Cases whose events the read model stopped applying at one it could not apply",
        ctx.model.quarantined(),
    )
    return [quarantined, *await dead_letters(ctx.settings)]
