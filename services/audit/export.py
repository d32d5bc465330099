"""The unit's 台账: one row per case of every service, as union offices keep it in a spreadsheet."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contracts.catalog import CASE_TYPES, STREAMS
from contracts.envelope import Actor
from contracts.personal import Sealed
from services.audit.index import CaseIndex, index_path
from services.audit.ledger_log import folded_cases
from services.audit.ledgerstore import Folded, ledger_cases
from services.audit.rebuild import services_with_read_models
from services.audit.replay import FINISHED
from services.common.auth import can_see
from services.common.calendar import local_date
from services.common.privacy import own_sealer
from services.common.settings import Settings
from services.common.vault import Sealer
from services.common.views import PERSONAL_ROLES, SEALED, confided, sees_person

# Roles that may see some case's worker; which cases, the view rules of its kind decide.
PERSONAL_DATA_ROLES = tuple(sorted({r for roles in PERSONAL_ROLES.values() for r in roles}))
# A cell a spreadsheet would read as a formula (or as the start of one) begins with these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# What XML 1.0, and so a spreadsheet cell, cannot hold.
ILLEGAL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
COLUMNS = (
    "case_id",
    "type",
    "unit",
    "opened",
    "status",
    "category",
    "days_open",
    "outcome",
    "satisfaction",
)
PERSONAL_COLUMNS = ("person",)


def _label(case_id: str) -> str:
    case = CASE_TYPES.get(case_id.split("-", 1)[0])
    return case.label if case else ""


@dataclass(frozen=True)
class Period:
    """The opening dates a ledger covers, both ends included."""

    start: date | None
    end: date | None
    # The ledger as it stood at this instant: only what had been recorded by then.
    as_of: datetime | None = None


def ledger_rows(
    settings: Settings,
    unit: str,
    period: Period,
    actor: Actor,
    sealer: Sealer | None,
    today: date | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield one row per case of the unit's subtree opened in the period, as it is read.

    The cases come from the log, as far as the audit's index has filed it: as they stand,
    from the index's ledger table, which folds each believed event as it is filed; as they
    stood at an instant, folded from the log's records. Follow-ups come first, so a case's
    row carries the satisfaction its call-back found.
    """
    path = index_path(settings)
    if not path.exists():
        return
    personal = sealer is not None and actor.role in PERSONAL_DATA_ROLES
    if period.as_of is not None:
        today = local_date(period.as_of)
    # A case is open until the ledger's day, which is China's.
    today = today or local_date(datetime.now(UTC))
    start = period.start.isoformat() if period.start else None
    stop = (period.end + timedelta(days=1)).isoformat() if period.end else None
    satisfaction: dict[str, tuple[str, str]] = {}
    index = CaseIndex(path, readonly=True)
    try:
        for streams in _streams():
            for case in _cases(settings, index, streams, unit, period.as_of, start, stop):
                stream = case.stream
                state = case.state
                if state.get("satisfaction"):
                    prior = satisfaction.get(case.correlation_id)
                    if prior is None or prior[0] < case.updated_at:
                        found = (case.updated_at, str(state["satisfaction"]))
                        satisfaction[case.correlation_id] = found
                line = _row(case, today)
                if not line["satisfaction"] and case.case_id in satisfaction:
                    line["satisfaction"] = satisfaction[case.case_id][1]
                if stream == "dispute" and not confided(actor, case.unit, state):
                    # Mediation is confidential: its existence shows, not what it is about.
                    line.update(category=SEALED, outcome=SEALED)
                if personal and sees_person(actor, stream, case.unit, state):
                    line["person"] = _person(case.person, sealer)
                elif actor.role != "auditor":
                    line["person"] = SEALED
                yield line
    finally:
        index.close()


def _cases(
    settings: Settings,
    index: CaseIndex,
    streams: list[str],
    unit: str,
    as_of: datetime | None,
    start: str | None,
    stop: str | None,
) -> Iterator[Folded]:
    """The unit's cases of the streams opened in [start, stop), as they stand or stood."""
    if as_of is None and index.ledger_filed():
        yield from ledger_cases(index.db, streams, unit, start, stop)
        return
    for case in folded_cases(settings, index, streams, unit, as_of):
        if not ((start and case.opened_at < start) or (stop and case.opened_at >= stop)):
            yield case


def columns_for(actor: Actor) -> list[str]:
    """The ledger's columns as the actor may see them: auditors see no one's name."""
    return [*COLUMNS, *(PERSONAL_COLUMNS if actor.role != "auditor" else ())]


def _streams() -> list[list[str]]:
    """The streams whose cases a ledger lists: follow-ups first, then all the others."""
    services = set(services_with_read_models())
    streams = [s.name for s in STREAMS.values() if s.service in services]
    return [[s for s in streams if s == "followup"], [s for s in streams if s != "followup"]]


def _row(case: Folded, today: date) -> dict[str, Any]:
    state = case.state
    opened = datetime.fromisoformat(case.opened_at.replace("Z", "+00:00"))
    status = case.status
    ended: date = today
    closed = state.get("closed_at")
    if closed:
        ended = datetime.fromisoformat(str(closed).replace("Z", "+00:00")).date()
    elif status in FINISHED:
        ended = datetime.fromisoformat(case.updated_at.replace("Z", "+00:00")).date()
    return {
        "case_id": case.case_id,
        "type": _label(case.case_id),
        "unit": case.unit,
        "opened": opened.date(),
        "status": status,
        "category": _first(state, "category", "topic", "area", "kind") or "",
        "days_open": max(0, (ended - opened.date()).days),
        "outcome": _first(state, "outcome", "resolved_how", "result", "decision") or "",
        "satisfaction": _first(state, "satisfaction") or "",
    }


def _first(state: dict[str, Any], *keys: str) -> str | None:
    for key in keys:
        value = state.get(key)
        if isinstance(value, dict):
            return SEALED  # free text sealed under a worker's key, such as a decision
        if value not in (None, ""):
            return str(value)
    return None


def _person(name: Sealed | None, sealer: Sealer | None) -> str:
    """Open the name of the person a case's first event names, if any."""
    if name is None or sealer is None:
        return ""
    try:
        return sealer.open(name) or ""
    except (ValidationError, ValueError):
        return SEALED


def write(
    path: Path, fmt: str, columns: list[str], rows: Iterable[dict[str, Any]], title: str
) -> int:
    """Write the ledger as xlsx or csv, each row as it comes; return how many rows."""
    count = 0
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for r in rows:
                writer.writerow([as_text(_cell(r.get(c))) for c in columns])
                count += 1
        return count
    import xlsxwriter

    # Each row goes to disk as it is written: a sheet of a hundred thousand cases is never
    # held whole.
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_formulas": False})
    try:
        sheet = book.add_worksheet("台账")
        day = book.add_format({"num_format": "yyyy-mm-dd"})
        sheet.freeze_panes(2, 0)
        sheet.write_string(0, 0, title)
        for col, name in enumerate(columns):
            sheet.write_string(1, col, name)
        for r in rows:
            for col, name in enumerate(columns):
                _put(sheet, count + 2, col, r.get(name), day)
            count += 1
    finally:
        book.close()
    return count


def _put(sheet: Any, row: int, col: int, value: Any, day: Any) -> None:
    """Write one cell as what it holds: a date, a number or text kept as text."""
    if isinstance(value, date):
        sheet.write_datetime(row, col, datetime(value.year, value.month, value.day), day)
    elif isinstance(value, int | float) and not isinstance(value, bool):
        sheet.write_number(row, col, value)
    elif value is not None and value != "":
        sheet.write_string(row, col, _sheet_text(str(value)))


def _sheet_text(value: str) -> str:
    """Text a spreadsheet cell can hold: control characters shown as U+FFFD."""
    # The log keeps text as it was given; a cell cannot hold most control characters.
    return ILLEGAL_CHARACTERS.sub("\ufffd", as_text(value))


def as_text(value: str) -> str:
    """Return text a spreadsheet keeps as text: one that would start a formula is prefixed."""
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def _cell(value: Any) -> str:
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def may_export(actor: Actor, unit: str) -> bool:
    """Whether the actor may export the ledger of a unit."""
    return actor.role != "admin" and can_see(actor, unit)


class NotPermitted(PermissionError):
    """The actor may not export the ledger of that unit."""


def local_exporter(unit: str) -> Actor:
    """Who a ledger is exported as without a token: an auditor of the unit, so nothing personal."""
    return Actor(user_id="ledger-export", role="auditor", unit=unit)


def title(unit: str, period: Period) -> str:
    """The heading of a unit's ledger for a period."""
    return f"台账 {unit} {period.start or '…'} – {period.end or '…'}"


def write_ledger(
    settings: Settings,
    *,
    unit: str,
    period: Period,
    actor: Actor,
    path: Path,
    fmt: str,
    sealer: Sealer | None = None,
) -> int:
    """Write a unit's ledger for a period as the actor may see it; return how many cases.

    Names are opened with `sealer`; without one, with this machine's own, if the actor sees any.
    """
    if not may_export(actor, unit):
        raise NotPermitted(f"a {actor.role} of {actor.unit} cannot export the ledger of {unit}")
    if sealer is None and actor.role in PERSONAL_DATA_ROLES:
        with own_sealer(settings) as own:
            return write_ledger(
                settings, unit=unit, period=period, actor=actor, path=path, fmt=fmt, sealer=own
            )
    rows = ledger_rows(settings, unit, period, actor, sealer)
    return write(path, fmt, columns_for(actor), rows, title(unit, period))
