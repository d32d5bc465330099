"""What a case service's routes share, built once at start-up, and how a route reaches it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Request
from prometheus_client import CollectorRegistry, Counter, Histogram

from services.common.bus import CommandBus
from services.common.decider import CaseKind
from services.common.projector import Projector
from services.common.readmodel import ReadModel
from services.common.settings import Settings
from services.common.units import Units
from services.common.vault import Sealer


@dataclass
class Metrics:
    """Prometheus metrics of one service process."""

    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.commands = Counter(
            "taizhang_commands_total",
            "Commands answered",
            ["command_type", "outcome"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "taizhang_command_seconds",
            "Time to a decided command",
            ["command_type"],
            registry=self.registry,
        )


@dataclass
class ServiceContext:
    """What a case service's HTTP layer needs, built once at start-up."""

    settings: Settings
    kind: CaseKind[Any]
    resource: str
    bus: CommandBus
    projector: Projector
    model: ReadModel[Any]
    sealer: Sealer
    units: Units
    metrics: Metrics


def context(request: Request) -> ServiceContext:
    """Return the service context."""
    ctx: ServiceContext = request.app.state.ctx
    return ctx


Ctx = Annotated[ServiceContext, Depends(context)]
