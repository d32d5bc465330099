"""The unit's 台账: one row per case of every service, as union offices keep it in a spreadsheet."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from contracts.catalog import CASE_TYPES
from contracts.envelope import Actor
from contracts.personal import Sealed
from services.audit.rebuild import services_with_read_models
from services.audit.replay import FINISHED
from services.common.asof import fold_cases
from services.common.auth import can_see
from services.common.calendar import local_date
from services.common.keystore import open_vault
from services.common.readmodel import ReadModel
from services.common.settings import Settings
from services.common.vault import Sealer
from services.common.views import PERSONAL_ROLES, SEALED, confided, sees_person

# Roles that may see some case's worker; which cases, the view rules of its kind decide.
PERSONAL_DATA_ROLES = tuple(sorted({r for roles in PERSONAL_ROLES.values() for r in roles}))
# A cell a spreadsheet would read as a formula (or as the start of one) begins with these.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
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
    settings: Settings, unit: str, period: Period, actor: Actor, today: date | None = None
) -> tuple[list[str], list[dict[str, Any]]]:
    """Return the columns and one row per case of the unit's subtree opened in the period."""
    if actor.role not in PERSONAL_DATA_ROLES:
        return _ledger_rows(settings, unit, period, actor, today, None)
    vault = open_vault(settings)
    try:
        sealer = Sealer(vault, settings.master_key)
        return _ledger_rows(settings, unit, period, actor, today, sealer)
    finally:
        vault.close()


def _ledger_rows(
    settings: Settings,
    unit: str,
    period: Period,
    actor: Actor,
    today: date | None,
    sealer: Sealer | None,
) -> tuple[list[str], list[dict[str, Any]]]:
    personal = sealer is not None
    if period.as_of is not None:
        today = local_date(period.as_of)
    today = today or datetime.now(UTC).date()
    rows: list[dict[str, Any]] = []
    satisfaction: dict[str, tuple[str, str]] = {}
    for factory in services_with_read_models().values():
        model = factory(settings)
        try:
            _, found = model.query(
                units=[unit],
                filters={
                    "opened_from": period.start.isoformat() if period.start else None,
                    "opened_to": (period.end + timedelta(days=1)).isoformat()
                    if period.end
                    else None,
                },
                limit=10**9,
                offset=0,
            )
            shown: list[Any] = found
            if period.as_of is not None:
                shown = _as_of(model, found, period.as_of)
            for row in shown:
                state = json.loads(row["state"])
                if state.get("satisfaction"):
                    stamp = str(row["updated_at"])
                    prior = satisfaction.get(row["correlation_id"])
                    if prior is None or prior[0] < stamp:
                        satisfaction[row["correlation_id"]] = (stamp, str(state["satisfaction"]))
                line = _row(row, state, today)
                stream = CASE_TYPES[str(row["case_id"]).split("-", 1)[0]].stream
                unit_of = str(row["unit"])
                if stream == "dispute" and not confided(actor, unit_of, state):
                    # Mediation is confidential: its existence shows, not what it is about.
                    line.update(category=SEALED, outcome=SEALED)
                if personal and sees_person(actor, stream, unit_of, state):
                    line["person"] = _person(model.history(row["case_id"]), sealer)
                elif actor.role != "auditor":
                    line["person"] = SEALED
                rows.append(line)
        finally:
            model.close()
    for line in rows:
        if not line["satisfaction"] and line["case_id"] in satisfaction:
            line["satisfaction"] = satisfaction[line["case_id"]][1]
    rows.sort(key=lambda r: (r["opened"], r["case_id"]))
    columns = [*COLUMNS, *(PERSONAL_COLUMNS if actor.role != "auditor" else ())]
    return columns, rows


def _as_of(model: ReadModel[Any], found: list[Any], as_of: datetime) -> list[dict[str, Any]]:
    """The rows of the cases as they stood at `as_of`; cases opened later are left out."""
    by_id = {r["case_id"]: r for r in found}
    rows = []
    for state in fold_cases(model, list(by_id), as_of):
        now = by_id[state.case_id]
        then = state.model_dump(mode="json")
        rows.append(
            {
                "case_id": state.case_id,
                "unit": now["unit"],
                "status": then.get("status", ""),
                "opened_at": now["opened_at"],
                "updated_at": then.get("last_event_at") or now["opened_at"],
                "correlation_id": now["correlation_id"],
                "state": json.dumps(then),
            }
        )
    return rows


def _row(row: Any, state: dict[str, Any], today: date) -> dict[str, Any]:
    opened = datetime.fromisoformat(str(row["opened_at"]).replace("Z", "+00:00"))
    status = str(row["status"])
    ended: date = today
    closed = state.get("closed_at")
    if closed:
        ended = datetime.fromisoformat(str(closed).replace("Z", "+00:00")).date()
    elif status in FINISHED:
        ended = datetime.fromisoformat(str(row["updated_at"]).replace("Z", "+00:00")).date()
    return {
        "case_id": row["case_id"],
        "type": _label(str(row["case_id"])),
        "unit": row["unit"],
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


def _person(history: list[dict[str, Any]], sealer: Sealer | None) -> str:
    """Open the name of the person a case's first event names, if any."""
    if not history or sealer is None:
        return ""
    for value in history[0].get("payload", {}).values():
        if isinstance(value, dict) and isinstance(value.get("name"), dict):
            try:
                return sealer.open(Sealed.model_validate(value["name"])) or ""
            except (ValidationError, ValueError):
                return SEALED
    return ""


def write(path: Path, fmt: str, columns: list[str], rows: list[dict[str, Any]], title: str) -> None:
    """Write the ledger as xlsx or csv."""
    if fmt == "csv":
        with path.open("w", newline="", encoding="utf-8-sig") as fh:
            writer = csv.writer(fh)
            writer.writerow(columns)
            for r in rows:
                writer.writerow([as_text(_cell(r.get(c))) for c in columns])
        return
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "台账"
    sheet.append([title])
    sheet.append(list(columns))
    for r in rows:
        sheet.append([_sheet_value(r.get(c)) for c in columns])
    sheet.freeze_panes = "A3"
    book.save(path)


def _sheet_value(value: Any) -> Any:
    """A value a spreadsheet cell can hold: control characters shown as U+FFFD."""
    # The log keeps text as it was given; a cell cannot hold most control characters.
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    return ILLEGAL_CHARACTERS_RE.sub("\ufffd", as_text(value)) if isinstance(value, str) else value


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
    settings: Settings, *, unit: str, period: Period, actor: Actor, path: Path, fmt: str
) -> int:
    """Write a unit's ledger for a period as the actor may see it; return how many cases."""
    if not may_export(actor, unit):
        raise NotPermitted(f"a {actor.role} of {actor.unit} cannot export the ledger of {unit}")
    columns, rows = ledger_rows(settings, unit, period, actor)
    write(path, fmt, columns, rows, title(unit, period))
    return len(rows)
