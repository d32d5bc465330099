"""The `taizhang` command: tokens, audit, contracts, and running the system locally."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from kafka.errors import KafkaError
from rich.console import Console
from rich.table import Table

from contracts.envelope import format_ts
from services.audit import ledger
from services.cli import processes
from services.cli.broker import BrokerError, LocalBroker
from services.common import kafka as kafka_kit
from services.common.auth import TokenError, issue_token
from services.common.settings import Settings

app = typer.Typer(help="Taizhang (台账): the union's case ledger.", no_args_is_help=True)
audit_app = typer.Typer(
    help="Replay and verify case histories from the log alone.", no_args_is_help=True
)
broker_app = typer.Typer(help="The local Kafka broker for development.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")
app.add_typer(broker_app, name="broker")
out = Console()
err = Console(stderr=True)

EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_BROKER = 4


def fail(message: str, code: int) -> typer.Exit:
    """Print a one-line message to stderr and return the exit to raise."""
    err.print(f"[red]error:[/red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


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


@app.command()
def token(
    user: Annotated[str, typer.Option(help="user id")],
    role: Annotated[
        str,
        typer.Option(
            help="worker_rep, group_member, union_chair, mediator, followup_officer, auditor, admin"
        ),
    ],
    unit: Annotated[str, typer.Option(help="unit id, e.g. demo/co/p01")],
    hours: Annotated[int, typer.Option(help="validity in hours")] = 12,
) -> None:
    """Print a signed bearer token for a user."""
    try:
        typer.echo(issue_token(Settings(), user=user, role=role, unit=unit, hours=hours))
    except TokenError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc


@app.command()
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


@app.command()
def contracts(
    dest: Annotated[Path, typer.Option(help="folder for the JSON Schema files")] = Path(
        "contracts/schemas"
    ),
) -> None:
    """Write the JSON Schema of every event and the AsyncAPI document of the topics."""
    from contracts.schema import write_schemas

    written = write_schemas(dest)
    out.print(f"{len(written)} schema files written to {dest}")


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="intake")],
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
        entry.worker(settings).run()
        return
    import uvicorn

    uvicorn.run(
        entry.app(settings),
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


@app.command()
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


@app.command()
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
    rep = issue_token(settings, user="rep-p01", role="worker_rep", unit="demo/co/p01")
    out.print("A token for the demo rep of demo/co/p01 (Authorize in the docs, or curl -H):")
    out.print(f"Authorization: Bearer {rep}", soft_wrap=True, highlight=False)


# --- audit ------------------------------------------------------------------


def _parse_at(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError as exc:
        raise fail(
            f"--at {at!r} is not an ISO time like 2026-11-24T09:30:00+08:00", EXIT_USAGE
        ) from exc
    if moment.tzinfo is None:
        raise fail("--at needs a timezone, e.g. 2026-11-24T09:30:00+08:00", EXIT_USAGE)
    return moment


def _records(settings: Settings, case_id: str) -> list[ledger.LogRecord]:
    try:
        ledger.stream_of(case_id)
    except ledger.CaseIdError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    try:
        records = ledger.case_records(settings, case_id)
    except (KafkaError, LookupError) as exc:
        raise fail(
            f"cannot read the log at {settings.kafka_bootstrap_servers}: {exc}", EXIT_BROKER
        ) from exc
    if not records:
        raise fail(f"no case {case_id} in the log", EXIT_NOT_FOUND)
    return records


@audit_app.command()
def replay(
    case_id: Annotated[str, typer.Argument(help="e.g. GRV-1A2B3C4D5E6F")],
    at: Annotated[
        str | None, typer.Option(help="show the case as the ledger had it at this time")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Rebuild a case from its events with the services' own rules and print its timeline."""
    from services.cli.processes import kind_of

    settings = Settings()
    moment = _parse_at(at)
    records = _records(settings, case_id)
    events = ledger.as_of(ledger.envelopes(records), moment)
    if not events:
        raise fail(f"{case_id} did not exist yet at {at}", EXIT_NOT_FOUND)
    state = kind_of(case_id).replay(events)
    if fmt == "json":
        body = {
            "case_id": case_id,
            "at": at,
            "state": state.model_dump(mode="json") if state else None,
            "timeline": [e.to_wire() for e in events],
        }
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{case_id}" + (f" as of {at}" if at else ""))
    for col in ("v", "recorded", "occurred", "event", "actor", "details"):
        table.add_column(col)
    for e in events:
        table.add_row(
            str(e.case_version),
            format_ts(e.recorded_at)[:19],
            format_ts(e.occurred_at)[:19],
            e.event_type,
            f"{e.actor.user_id} ({e.actor.role})",
            ledger.summarise(e.payload),
        )
    out.print(table)
    out.print_json(data=state.model_dump(mode="json") if state else None)


@audit_app.command("verify")
def verify_cmd(
    case_id: Annotated[str | None, typer.Argument(help="one case; omit with --all")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="every case of every service")] = False,
) -> None:
    """Check hash chains, versions and schemas; name the exact offset of anything wrong."""
    settings = Settings()
    if (case_id is None) == (not all_cases):
        raise fail("give a case id or --all", EXIT_USAGE)
    try:
        if case_id:
            verdict = ledger.verify(_records(settings, case_id))
        else:
            verdict = ledger.verify(ledger.all_records(settings, kafka_kit.STREAMS))
    except KafkaError as exc:
        raise fail(
            f"cannot read the log at {settings.kafka_bootstrap_servers}: {exc}", EXIT_BROKER
        ) from exc
    for f in verdict.findings:
        out.print(f"[red]{f.kind}[/red] {f.case_id} at {f.position}: {f.detail}", highlight=False)
    summary = (
        f"{verdict.cases} case(s), {verdict.events} record(s), "
        f"{verdict.redeliveries} byte-identical redelivery(ies), {len(verdict.findings)} finding(s)"
    )
    out.print(summary, highlight=False)
    if not verdict.clean:
        raise typer.Exit(EXIT_FINDINGS)


@audit_app.command("lineage")
def lineage_cmd(
    case_id: Annotated[str, typer.Argument(help="e.g. GRV-1A2B3C4D5E6F")],
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Show every case linked to this one across services: follow-ups, disputes, the grievance."""
    from services.cli.processes import kind_of

    settings = Settings()
    _records(settings, case_id)
    try:
        linked = ledger.lineage(ledger.all_records(settings, kafka_kit.STREAMS), case_id)
    except KafkaError as exc:
        raise fail(
            f"cannot read the log at {settings.kafka_bootstrap_servers}: {exc}", EXIT_BROKER
        ) from exc
    cases: list[dict[str, Any]] = []
    for cid, events in linked.items():
        state = kind_of(cid).replay(events)
        cases.append(
            {
                "case_id": cid,
                "status": getattr(state, "status", None),
                "correlation_id": events[0].correlation_id,
                "caused_by": events[0].causation_id,
                "opened_at": format_ts(events[0].occurred_at),
                "events": [e.event_type for e in events],
            }
        )
    if fmt == "json":
        typer.echo(json.dumps({"case_id": case_id, "cases": cases}, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"lineage of {case_id}")
    for col in ("case", "status", "correlation", "caused by", "opened", "events"):
        table.add_column(col)
    for c in cases:
        table.add_row(
            str(c["case_id"]),
            str(c["status"]),
            str(c["correlation_id"]),
            str(c["caused_by"]),
            str(c["opened_at"])[:19],
            str(len(c["events"])),
        )
    out.print(table)


def main() -> None:
    """Run the CLI."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
