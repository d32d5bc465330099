"""The dashboard of a unit and period: suggestions, grievances and rates, as charts and numbers."""

from __future__ import annotations

import asyncio
from datetime import date, datetime
from typing import Any

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from services.common.calendar import SHANGHAI
from services.common.units import within
from services.portal.charts import bar_chart, percent, rate_chart
from services.portal.client import ApiError
from services.portal.web import UserPage, friendly

router = APIRouter()


def _day(value: str | None) -> str | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        return None


def moment(value: str | None) -> str | None:
    """Read the picker's local time (China) as an instant; None when blank or unreadable."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=SHANGHAI)
    if not 2000 <= when.year <= 2100:
        return None
    return when.isoformat()


def _local(instant: str | None) -> str:
    """The picker's value: the instant in China's time, to the minute."""
    if instant is None:
        return ""
    return datetime.fromisoformat(instant).astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


async def _library(page: UserPage, unit: str) -> tuple[list[tuple[str, Any]], bool]:
    """The unit's classroom, volunteer and help figures, or that the library cannot say."""
    t = page.words
    try:
        figures = await page.get("library", "/stats", {"unit": unit})
    except ApiError:
        return [], True
    keys = [
        ("dashboard.sessions", "sessions"),
        ("dashboard.attendees", "attendees"),
        ("dashboard.typical_published", "typical_cases_published"),
        ("dashboard.teams", "teams"),
        ("dashboard.volunteers", "volunteers"),
        ("dashboard.help_given", "help_given"),
        ("dashboard.hours", "hours"),
    ]
    rows: list[tuple[str, Any]] = [(t(label), figures.get(key)) for label, key in keys]
    rows.append((t("dashboard.recovered"), f"{int(figures.get('recovered_fen', 0)) / 100:.2f}"))
    return rows, False


async def _figures(
    page: UserPage, service: str, params: dict[str, Any]
) -> tuple[dict[str, Any], ApiError | None]:
    """A service's figures, or nothing and why it could not give them."""
    try:
        return await page.get(service, "/stats", params), None
    except ApiError as exc:
        return {}, exc


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard(
    page: UserPage,
    unit: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    as_of: str | None = None,
) -> Response:
    """Charts of a unit's figures in a period, with the numbers beneath."""
    actor = page.user()
    t = page.words
    units = [
        u for u in page.portal.units.units if actor.role == "auditor" or within(actor.unit, u.id)
    ]
    chosen = unit or (units[0].id if actor.role == "auditor" and units else actor.unit)
    instant = moment(as_of)
    params = {"unit": chosen, "from": _day(from_), "to": _day(to), "as_of": instant}
    # Each service counts its own figures: they are asked at once, not one after another.
    (
        (democracy, refused),
        (intake, intake_refused),
        (followup, followup_refused),
        shelf,
    ) = await asyncio.gather(
        _figures(page, "suggestions", params),
        _figures(page, "intake", params),
        _figures(page, "followup", params),
        _library(page, chosen),
    )
    if refused is not None:
        intake = {}
    refused = refused or intake_refused
    error = friendly(t, refused) if refused is not None else None
    followup_error = friendly(t, followup_refused) if followup_refused is not None else None
    library, library_error = shelf
    counts = [
        (t("dashboard.suggestions"), int(democracy.get("suggestions", 0))),
        (t("dashboard.adopted"), int(democracy.get("adopted", 0))),
        (t("dashboard.grievances"), int(democracy.get("grievances", intake.get("grievances", 0)))),
        (t("dashboard.proposals"), int(democracy.get("proposals", 0))),
        (t("dashboard.queries"), int(democracy.get("queries", 0))),
    ]
    rates = [
        (t("dashboard.adoption_rate"), democracy.get("adoption_rate")),
        (t("dashboard.closure_rate"), intake.get("closure_rate")),
        (t("dashboard.on_time_rate"), intake.get("answered_on_time_rate")),
        (t("dashboard.satisfaction_rate"), followup.get("satisfaction_rate")),
    ]
    followups = [
        (t("dashboard.followups"), followup.get("followups")),
        (t("dashboard.followups_completed"), followup.get("completed")),
        (t("dashboard.followups_overdue"), followup.get("overdue")),
    ]
    followup_rates = [
        (t("dashboard.followup_closure_rate"), followup.get("closure_rate")),
        (t("dashboard.followup_on_time_rate"), followup.get("on_time_rate")),
        (t("dashboard.satisfaction_rate"), followup.get("satisfaction_rate")),
    ]
    return page.render(
        "dashboard.html",
        error=error,
        units=units,
        chosen=chosen,
        from_=params["from"] or "",
        to=params["to"] or "",
        as_of=_local(instant),
        counts=counts,
        rates=[(label, rate, percent(rate)) for label, rate in rates],
        followup_error=followup_error,
        followups=followups,
        followup_rates=[(label, rate, percent(rate)) for label, rate in followup_rates],
        library=library,
        library_error=library_error,
        count_chart=bar_chart(t("dashboard.counts"), counts),
        rate_chart=rate_chart(t("dashboard.rates"), rates, t("dashboard.no_data")),
    )
