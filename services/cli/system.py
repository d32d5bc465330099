"""Commands that run the system on this machine: topics, services, the local broker."""

from __future__ import annotations

import os
import signal
import time
from typing import Annotated, Any

import typer
from kafka.errors import KafkaError
from rich.table import Table

from services.cli import processes
from services.cli.broker import BrokerError, LocalBroker
from services.cli.console import EXIT_BROKER, EXIT_USAGE, fail, out
from services.common import kafka as kafka_kit
from services.common.auth import issue_token
from services.common.settings import Settings

broker_app = typer.Typer(help="The local Kafka broker for development.", no_args_is_help=True)


def local_broker(settings: Settings) -> LocalBroker:
    """The broker `make run` manages, on the configured port."""
    port = int(settings.kafka_bootstrap_servers.rsplit(":", 1)[-1])
    return LocalBroker(
        home=settings.var_dir / "kafka" / f"node-{port}",
        libs=settings.var_dir / "kafka" / "libs",
        port=port,
        controller_port=port + 1,
        log_dir=settings.var_dir / "log",
    )


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
    entry = processes.SERVICES.get(service)
    if entry is None:
        raise fail(
            f"unknown service {service!r}; one of {', '.join(processes.SERVICES)}", EXIT_USAGE
        )
    settings = Settings()
    from services.common import logging as logs

    logs.configure(settings.log_level, f"{service}-{part}")
    if part == "worker":
        processes.create_worker(entry, settings).run()
        return
    import uvicorn

    uvicorn.run(
        processes.create_app(entry, settings),
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
) -> None:
    """Start the broker, topics, every service and the demo data; print the URLs."""
    settings = Settings()
    external = "KAFKA_BOOTSTRAP_SERVERS" in os.environ
    try:
        if not external:
            took = local_broker(settings).start()
            out.print(f"broker on {settings.kafka_bootstrap_servers} ready in {took:.1f}s")
        kafka_kit.ensure_topics(settings)
        started = processes.start_all(settings)
    except (BrokerError, KafkaError, RuntimeError, TimeoutError) as exc:
        raise fail(str(exc), EXIT_BROKER) from exc
    if seed:
        from services.cli.demo import load_demo

        load_demo(settings, out)
    _print_urls(settings, started)
    if not foreground:
        out.print("stop with: make down")
        return
    stop = {"now": False}

    def _stop(*_: Any) -> None:
        stop["now"] = True

    signal.signal(signal.SIGINT, _stop)
    signal.signal(signal.SIGTERM, _stop)
    while not stop["now"]:
        time.sleep(0.5)
    down()


def down() -> None:
    """Stop every service and the local broker; the data stays under var/."""
    settings = Settings()
    processes.stop_all(settings)
    if "KAFKA_BOOTSTRAP_SERVERS" not in os.environ:
        local_broker(settings).stop()
    out.print("stopped; the ledger's data stays under var/")


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
