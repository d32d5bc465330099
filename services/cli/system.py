"""Commands that run the system on this machine: topics, services, the local broker."""

from __future__ import annotations

import os
from functools import partial
from typing import Annotated

import httpx
import typer
from kafka.errors import KafkaError
from pydantic import ValidationError
from rich.table import Table

from services.cli import processes, supervisor
from services.cli.broker import BrokerError
from services.cli.cluster import FIRST_PORT, NODES, addresses
from services.cli.console import EXIT_BROKER, EXIT_USAGE, fail, out
from services.cli.lifecycle import Stopped
from services.cli.supervisor import SupervisorSettings, local_broker
from services.common import heartbeat
from services.common import kafka as kafka_kit
from services.common.auth import issue_token
from services.common.keystore import VaultRefused, vault_file
from services.common.settings import Settings

SERVICES = processes.SERVICES
CLUSTER_PREFIX = "cluster."

broker_app = typer.Typer(help="The local Kafka broker for development.", no_args_is_help=True)


def topics() -> None:
    """Create every topic the system needs (idempotent)."""
    settings = Settings()
    try:
        created = kafka_kit.ensure_topics(settings)
    except (KafkaError, RuntimeError) as exc:
        raise fail(
            f"cannot create topics on {settings.kafka_bootstrap_servers}: {exc}", EXIT_BROKER
        ) from exc
    existed = len(kafka_kit.all_topics(settings)) - len(created)
    out.print(f"{len(created)} topics created, {existed} existed")


def serve(
    service: Annotated[str, typer.Argument(help="intake, suggestions, mediation, …")],
    part: Annotated[str, typer.Option(help="api or worker")] = "api",
    port: Annotated[int | None, typer.Option(help="HTTP port (api)")] = None,
    host: Annotated[str, typer.Option(help="HTTP address to listen on (api)")] = "127.0.0.1",
) -> None:
    """Run one part of a service in the foreground."""
    entry = SERVICES.get(service)
    if entry is None:
        raise fail(f"unknown service {service!r}; one of {', '.join(SERVICES)}", EXIT_USAGE)
    from services.common import logging as logs

    try:
        settings = Settings()
        # Every part, whether it seals or not, so that a deployment is refused as a whole.
        vault_file(settings)
        logs.configure(settings.log_level, f"{service}-{part}")
        built = (processes.create_worker if part == "worker" else processes.create_app)(
            entry, settings
        )
    except ValidationError as exc:
        reasons = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise fail(f"{service} {part} cannot start: {reasons}", EXIT_USAGE) from exc
    except VaultRefused as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    if part == "worker":
        alive = heartbeat.Heartbeat(heartbeat.heartbeat_file(settings.var_dir, service))
        heartbeat.attach(built, alive)
        built.run()
        return
    import uvicorn

    uvicorn.run(
        built,
        host=host,
        port=port or entry.port,
        log_level="warning",
        access_log=False,
    )


@broker_app.command("start")
def broker_start() -> None:
    """Fetch (once), format (once) and start the local broker."""
    broker = local_broker(Settings())
    try:
        took = broker.start()
    except BrokerError as exc:
        raise fail(str(exc), EXIT_BROKER) from exc
    out.print(f"broker answering on {broker.bootstrap} after {took:.1f}s")


@broker_app.command("stop")
def broker_stop() -> None:
    """Stop the local broker."""
    stopped = local_broker(Settings()).stop()
    out.print("broker stopped" if stopped else "no broker was running")


def up(
    foreground: Annotated[
        bool, typer.Option(help="stay attached; Ctrl-C stops everything")
    ] = False,
    seed: Annotated[bool, typer.Option(help="load the demo data")] = True,
    broker: Annotated[
        bool | None,
        typer.Option(
            help="start the local broker (default: unless KAFKA_BOOTSTRAP_SERVERS names a cluster)"
        ),
    ] = None,
    service: Annotated[
        list[str] | None, typer.Option(help="start only this service (repeatable)")
    ] = None,
) -> None:
    """Start the broker, topics, every service and the demo data; restart any part that exits."""
    settings = SupervisorSettings()
    names = _services(service)
    local = broker if broker is not None else "KAFKA_BOOTSTRAP_SERVERS" not in os.environ
    _clear(settings)

    def ready(ports: dict[str, int]) -> None:
        if seed:
            from services.cli.demo import load_demo

            load_demo(settings.model_copy(update=settings.urls()), out)
        _print_urls(settings, ports)

    try:
        if foreground:
            journal = supervisor.Journal(settings, out)
            supervisor.supervise(settings, journal, names, local, ready)
            out.print("stopped; the ledger's data stays under var/")
            return
        ready(supervisor.detach(settings, names, local))
    except (BrokerError, KafkaError, RuntimeError, TimeoutError, httpx.HTTPError) as exc:
        raise fail(str(exc), EXIT_BROKER) from exc
    out.print("stop with: make down")


def cluster(
    foreground: Annotated[
        bool, typer.Option(help="stay attached; Ctrl-C stops everything")
    ] = False,
    seed: Annotated[bool, typer.Option(help="load the demo data")] = True,
    first_port: Annotated[
        int, typer.Option(help="the first node's port; the nodes take every other port from it")
    ] = FIRST_PORT,
    service: Annotated[
        list[str] | None, typer.Option(help="start only this service (repeatable)")
    ] = None,
) -> None:
    """Start three local brokers as one cluster, then the topics and services as `up` does."""
    bootstrap = addresses(first_port)
    os.environ.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "TAIZHANG_REPLICATION_FACTOR": str(NODES),
            "TAIZHANG_MIN_INSYNC_REPLICAS": "2",
            # Its own topics and read models: the ones of the single broker name its offsets.
            "TAIZHANG_TOPIC_PREFIX": os.environ.get("TAIZHANG_TOPIC_PREFIX", CLUSTER_PREFIX),
        }
    )
    out.print(f"brokers: {bootstrap} (replication factor {NODES}, min in-sync replicas 2)")
    up(foreground=foreground, seed=seed, broker=True, service=service)


def supervise(
    broker: Annotated[bool, typer.Option(help="start the local broker")] = True,
    service: Annotated[list[str] | None, typer.Option(help="only this service")] = None,
) -> None:
    """Start and watch the parts in this process: what `up` leaves running in the background."""
    settings = SupervisorSettings()
    journal = supervisor.Journal(settings, None)
    ready = partial(supervisor.announce_ready, settings)
    try:
        supervisor.supervise(settings, journal, _services(service), broker, ready)
    except (BrokerError, KafkaError, RuntimeError, TimeoutError) as exc:
        journal.say(f"could not start: {exc}")
        raise typer.Exit(EXIT_BROKER) from exc


def down() -> None:
    """Stop every part, the local broker and the supervisor; the data stays under var/."""
    stopped = _clear(SupervisorSettings())
    if not stopped.asked:
        out.print("nothing was running")
    out.print("stopped; the ledger's data stays under var/")


def _services(chosen: list[str] | None) -> list[str]:
    unknown = sorted(set(chosen or ()) - set(SERVICES))
    if unknown:
        raise fail(f"unknown service {unknown[0]!r}; one of {', '.join(SERVICES)}", EXIT_USAGE)
    return [name for name in SERVICES if not chosen or name in chosen]


def _clear(settings: SupervisorSettings) -> Stopped:
    """Stop what this deployment left running (all at once), and say so."""
    stopped = supervisor.clear(settings)
    if stopped.asked:
        killed = f"; killed {', '.join(stopped.killed)}" if stopped.killed else ""
        out.print(
            f"stopped {', '.join(stopped.asked)} in {stopped.seconds:.1f}s{killed}",
            highlight=False,
            soft_wrap=True,
        )
    return stopped


def _print_urls(settings: Settings, started: dict[str, int]) -> None:
    table = Table(title="Taizhang is running", show_header=True)
    table.add_column("service")
    table.add_column("API docs")
    for name, port in started.items():
        table.add_row(name, f"http://127.0.0.1:{port}/docs")
    out.print(table)
    if "portal" in started:
        out.print(f"web portal (sign in as a demo user): http://127.0.0.1:{started['portal']}/")
    rep = issue_token(settings, user="rep-p01", role="worker_rep", unit="demo/co/p01")
    out.print("A token for the demo rep of demo/co/p01 (Authorize in the docs, or curl -H):")
    out.print(f"Authorization: Bearer {rep}", soft_wrap=True, highlight=False)
