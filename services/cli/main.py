"""The `taizhang` command: tokens, audit, contracts, and running the system locally."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from kafka.errors import KafkaError
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.tree import Tree

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
export_app = typer.Typer(help="Ledgers for the union offices.", no_args_is_help=True)
app.add_typer(broker_app, name="broker")
app.add_typer(export_app, name="export")
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
    if "portal" in started:
        out.print(f"web portal (sign in as a demo user): http://127.0.0.1:{started['portal']}/")
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


def _broker_down(settings: Settings, exc: Exception) -> typer.Exit:
    return fail(f"cannot read the log at {settings.kafka_bootstrap_servers}: {exc}", EXIT_BROKER)


def _case_id(case_id: str) -> str:
    try:
        ledger.stream_of(case_id)
    except ledger.CaseIdError as exc:
        raise fail(str(exc), EXIT_USAGE) from exc
    return case_id


def _records(settings: Settings, case_id: str) -> list[ledger.LogRecord]:
    from services.audit.replay import find

    _case_id(case_id)
    try:
        records = find(settings, case_id).records
    except (KafkaError, LookupError) as exc:
        raise _broker_down(settings, exc) from exc
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
    """Rebuild a case from its events with the services' own rules: state, deadlines, actors."""
    from services.audit.kinds import kind_of
    from services.audit.replay import NotYet, as_it_stood

    if fmt not in ("table", "json"):
        raise fail(f"--format {fmt!r}: use table or json", EXIT_USAGE)
    settings = Settings()
    moment = _parse_at(at)
    records = _records(settings, case_id)
    try:
        view = as_it_stood(kind_of(case_id), case_id, ledger.envelopes(records), moment)
    except NotYet as exc:
        raise fail(str(exc), EXIT_NOT_FOUND) from exc
    if fmt == "json":
        typer.echo(json.dumps(view, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{case_id}" + (f" as of {at}" if at else ""))
    for col in ("v", "recorded", "occurred", "event", "actor", "details"):
        table.add_column(col)
    for line in view["timeline"]:
        table.add_row(
            str(line["version"]),
            line["recorded_at"][:19],
            line["occurred_at"][:19],
            line["event_type"],
            f"{line['actor']['user_id']} ({line['actor']['role']})",
            line["summary"],
        )
    out.print(table)
    out.print_json(data=view["state"])
    deadlines = view["open_deadlines"]
    out.print(
        "open deadlines: "
        + (
            ", ".join(
                f"{d['deadline']} {d['due']}" + (" (passed)" if d["passed"] else "")
                for d in deadlines
            )
            or "none"
        ),
        highlight=False,
    )
    out.print(
        "acted: "
        + ", ".join(f"{a['user_id']} ({a['role']}, {a['events']})" for a in view["actors"]),
        highlight=False,
    )


def _progress() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
        console=err,
        transient=False,
    )


def _counted(
    records: Iterable[ledger.LogRecord], progress: Progress, task: TaskID, started: float
) -> Iterator[ledger.LogRecord]:
    for n, rec in enumerate(records, start=1):
        if n % 1000 == 0:
            rate = n / max(time.perf_counter() - started, 1e-6)
            progress.update(task, completed=n, rate=f"{rate:,.0f} events/s")
        yield rec
    progress.update(task, completed=progress.tasks[task].total or 0)


@audit_app.command("verify")
def verify_cmd(
    case_id: Annotated[str | None, typer.Argument(help="one case; omit with --all")] = None,
    all_cases: Annotated[bool, typer.Option("--all", help="every case of every service")] = False,
) -> None:
    """Check chains, versions, schemas, references and the signed checkpoint; name each offset."""
    from services.audit import checkpoint

    settings = Settings()
    if (case_id is None) == (not all_cases):
        raise fail("give a case id or --all", EXIT_USAGE)
    try:
        if case_id:
            verdict = ledger.verify(_records(settings, case_id))
        else:
            parts = ledger.event_partitions(settings, kafka_kit.STREAMS)
            total = sum(ledger.end_offsets(settings, parts).values())
            with _progress() as progress:
                task = progress.add_task("verifying", total=total, rate="")
                records = _counted(
                    ledger.read_partitions(settings, parts), progress, task, time.perf_counter()
                )
                verdict = ledger.verify(records, references=True)
        signed = checkpoint.latest(settings)
    except KafkaError as exc:
        raise _broker_down(settings, exc) from exc
    if signed is not None:
        where, value = signed
        try:
            trusted = checkpoint.trusted_key(settings)
            point = checkpoint.open_record(value, where, trusted)
            heads = (
                point.heads
                if not case_id
                else {k: v for k, v in point.heads.items() if k == case_id}
            )
            ledger.check_checkpoint(verdict, heads, where)
            pinned = "" if trusted else " (by the key it carries: no audit public key here)"
            out.print(
                f"checkpoint of {point.at} at {where}: signature holds{pinned},"
                f" {len(point.heads)} case(s)",
                highlight=False,
            )
        except checkpoint.CheckpointError as exc:
            verdict.findings.append(ledger.Finding("(checkpoint)", where, "checkpoint", str(exc)))
    else:
        out.print("no signed checkpoint yet", highlight=False)
    for f in verdict.findings:
        out.print(f"[red]{f.kind}[/red] {f.case_id} at {f.position}: {f.detail}", highlight=False)
    summary = (
        f"{verdict.cases} case(s), {verdict.events} record(s), "
        f"{verdict.redeliveries} byte-identical redelivery(ies), {len(verdict.findings)} finding(s)"
    )
    out.print(summary, highlight=False)
    if not verdict.clean:
        raise typer.Exit(EXIT_FINDINGS)


@audit_app.command()
def lineage(
    case_id: Annotated[str, typer.Argument(help="any case of the family")],
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
) -> None:
    """Print the tree of cases linked across services, with each link's causing event."""
    from services.audit.index import CaseIndex, Lineage, index_path
    from services.audit.kinds import kind_of

    settings = Settings()
    _case_id(case_id)
    path = index_path(settings)
    tree: Lineage | None = None
    if path.exists():
        index = CaseIndex(path, readonly=True)
        try:
            tree = index.lineage(case_id) if index.entries(case_id) else None
        finally:
            index.close()
    try:
        if tree is not None:
            family = {cid: ledger.envelopes(_records(settings, cid)) for cid in tree.cases}
        else:
            # No index on this machine: find the family by reading the log itself.
            _records(settings, case_id)
            family = ledger.lineage(ledger.all_records(settings, kafka_kit.STREAMS), case_id)
    except KafkaError as exc:
        raise _broker_down(settings, exc) from exc
    cases = [
        {
            "case_id": cid,
            "status": getattr(kind_of(cid).replay(events), "status", None),
            "correlation_id": events[0].correlation_id,
            "caused_by": events[0].causation_id,
            "events": [e.event_type for e in events],
        }
        for cid, events in family.items()
        if events
    ]
    links = [
        {"parent": k.parent, "child": k.child, "event_type": k.event_type, "caused": k.caused}
        for k in (tree.links if tree else [])
    ]
    if fmt == "json":
        body = {"case_id": case_id, "cases": cases, "links": links}
        typer.echo(json.dumps(body, ensure_ascii=False, indent=2, default=str))
        return
    if fmt != "table":
        raise fail(f"--format {fmt!r}: choose table or json", EXIT_USAGE)
    status = {c["case_id"]: c["status"] for c in cases}
    if tree is None:
        for c in cases:
            out.print(f"{c['case_id']} ({c['status']}) ← {c['correlation_id']}", highlight=False)
        return
    nodes = {tree.root: Tree(f"[bold]{tree.root}[/bold] ({status.get(tree.root)})")}
    for link in tree.links:
        cause = f" ← {link.caused}" if link.caused else " (opened in its name)"
        label = (
            f"{link.child} ({status.get(link.child)}): {link.event_type}{cause} at {link.position}"
        )
        if link.child in nodes:
            nodes[link.parent].add(f"↩ {label}")
        else:
            nodes[link.child] = nodes[link.parent].add(label)
    out.print(nodes[tree.root], highlight=False)


@audit_app.command()
def index(
    rebuild: Annotated[
        bool, typer.Option(help="throw the index away and rebuild it from offset 0")
    ] = False,
) -> None:
    """Bring the per-case index up to date with the log (the audit service does this live)."""
    from services.audit.index import CaseIndex, index_path
    from services.audit.indexer import catch_up

    settings = Settings()
    path = index_path(settings)
    if rebuild:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    store = CaseIndex(path)
    started = time.perf_counter()
    try:
        with _progress() as progress:
            task = progress.add_task("indexing", total=None, rate="")
            added = catch_up(settings, store, lambda n: progress.advance(task, n))
        count = store.count()
    except KafkaError as exc:
        raise _broker_down(settings, exc) from exc
    finally:
        store.close()
    took = time.perf_counter() - started
    out.print(f"{added} record(s) indexed in {took:.1f}s; the index holds {count}", highlight=False)


@audit_app.command("checkpoint")
def checkpoint_cmd() -> None:
    """Sign a checkpoint over every case's chain head now (refused if the log has findings)."""
    from contracts.envelope import now_utc
    from services.audit import checkpoint

    settings = Settings()
    try:
        parts = ledger.event_partitions(settings, kafka_kit.STREAMS)
        ends = ledger.end_offsets(settings, parts)
        verdict = ledger.verify(ledger.read_partitions(settings, parts, ends=ends))
        if not verdict.clean:
            raise fail(
                f"the log has {len(verdict.findings)} finding(s);"
                " run `taizhang audit verify --all`",
                EXIT_FINDINGS,
            )
        by_topic: dict[str, dict[int, int]] = {}
        for tp, offset in ends.items():
            by_topic.setdefault(tp.topic, {})[tp.partition] = offset
        body = checkpoint.build(verdict.heads, by_topic, now_utc())
        where = checkpoint.publish(
            settings, checkpoint.sign(checkpoint.signing_key(settings), body)
        )
    except KafkaError as exc:
        raise _broker_down(settings, exc) from exc
    out.print(f"checkpoint over {len(verdict.heads)} case(s) signed at {where}", highlight=False)


@audit_app.command("public-key")
def public_key() -> None:
    """Print the public key that checkpoints are verified with (Ed25519, base64)."""
    from services.audit import checkpoint

    typer.echo(checkpoint.public_key(Settings()))


@audit_app.command("rebuild")
def rebuild_cmd() -> None:
    """Rebuild every read model from offset 0 into a fresh store; prove it equals the live one."""
    import tempfile

    from services.audit import rebuild

    settings = Settings()
    results: list[rebuild.Rebuilt] = []
    try:
        with (
            tempfile.TemporaryDirectory(prefix="taizhang-rebuild-") as tmp,
            _progress() as progress,
        ):
            for name, factory in rebuild.services_with_read_models().items():
                results.append(
                    rebuild.rebuild_service(settings, name, factory, Path(tmp), progress)
                )
    except KafkaError as exc:
        raise _broker_down(settings, exc) from exc
    table = Table(title="read models rebuilt from offset 0")
    for col in ("service", "table", "rows", "rebuilt digest", "live"):
        table.add_column(col)
    for r in results:
        for t in r.tables:
            verdict = "equal" if t.equal else ("not here" if t.live is None else "DIFFERENT")
            table.add_row(r.service, t.table, str(t.rows), t.rebuilt[:16], verdict)
    out.print(table)
    for r in results:
        rate = r.events / max(r.seconds, 1e-6)
        state = (
            "equals the live read model"
            if r.equal
            else (
                "differs from the live read model"
                if r.live_found
                else "has no live read model to compare"
            )
        )
        out.print(
            f"{r.service}: {r.events} event(s) in {r.seconds:.1f}s ({rate:,.0f} events/s),"
            f" {r.dead} refused; {state}",
            highlight=False,
        )
    # A service that does not run on this machine has no live model: nothing to disprove.
    compared = [r for r in results if r.live_found]
    if not compared:
        raise fail("no live read model was found to compare with", EXIT_FINDINGS)
    if not all(r.equal for r in compared):
        raise typer.Exit(EXIT_FINDINGS)


@export_app.command("ledger")
def export_ledger(
    unit: Annotated[str, typer.Option(help="unit id; its whole subtree is included")],
    out_file: Annotated[Path, typer.Option("--out", help="file to write")],
    start: Annotated[
        str | None, typer.Option("--from", help="first opening date, YYYY-MM-DD")
    ] = None,
    end: Annotated[str | None, typer.Option("--to", help="last opening date, YYYY-MM-DD")] = None,
    fmt: Annotated[str, typer.Option("--format", help="xlsx or csv")] = "xlsx",
    bearer: Annotated[
        str | None,
        typer.Option(
            "--token", envvar="TAIZHANG_TOKEN", help="your token; decides what you may see"
        ),
    ] = None,
) -> None:
    """Write a unit's 台账: one row per case of every service, as union offices keep it."""
    from contracts.envelope import Actor
    from services.audit import export
    from services.common.auth import read_token

    settings = Settings()
    if fmt not in ("xlsx", "csv"):
        raise fail(f"--format {fmt!r}: use xlsx or csv", EXIT_USAGE)
    try:
        period = export.Period(
            date.fromisoformat(start) if start else None, date.fromisoformat(end) if end else None
        )
    except ValueError as exc:
        raise fail(f"--from/--to: {exc}; use YYYY-MM-DD", EXIT_USAGE) from exc
    if bearer:
        try:
            actor = read_token(settings, bearer)
        except TokenError as exc:
            raise fail(f"the token is not valid: {exc}", EXIT_USAGE) from exc
    else:
        actor = Actor(user_id="ledger-export", role="auditor", unit=unit)
    if not export.may_export(actor, unit):
        raise fail(
            f"a {actor.role} of {actor.unit} cannot export the ledger of {unit}", EXIT_NOT_FOUND
        )
    columns, rows = export.ledger_rows(settings, unit, period, actor)
    title = f"台账 {unit} {start or '…'} – {end or '…'}"
    export.write(out_file, fmt, columns, rows, title)
    out.print(f"{len(rows)} case(s) written to {out_file}", highlight=False)


def main() -> None:
    """Run the CLI."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
