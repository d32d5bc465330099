"""The portal's pure parts: words in both languages, clocks, tallies, chain checks, charts."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, get_args

import pytest

from contracts import followup as fu
from contracts import grievance as g
from contracts import suggestion as s
from contracts.envelope import Role
from contracts.registry import REGISTRY
from contracts.scope import DisputeCategory
from services.common.settings import Settings
from services.common.units import load_units
from services.followup.domain import Status as FollowupStatus
from services.intake.domain import Status as GrievanceStatus
from services.intake.public import NEXT as GRIEVANCE_NEXT
from services.mediation.domain import Status as DisputeStatus
from services.mediation.public import NEXT as DISPUTE_NEXT
from services.portal.audit import chain_badge, chosen_moment, lineage_tree
from services.portal.charts import bar_chart, percent, rate_chart
from services.portal.client import ApiError
from services.portal.dashboard import moment
from services.portal.democracy import tally
from services.portal.followups import by_urgency, filters
from services.portal.grievances import service_level
from services.portal.i18n import ENUMS, LABELS, Lang, Words
from services.portal.mediation import clock
from services.portal.receipts import said
from services.portal.session import demo_sign_in_allowed, load_demo_users, safe_next
from services.portal.web import friendly, today
from services.suggestions.domain import QueryStatus, SuggestionStatus

TEMPLATES = Path(__file__).resolve().parents[2] / "services" / "portal" / "templates"
# Each vocabulary is a Literal type, or a union of them, read at run time.
VOCABULARIES: list[tuple[str, object]] = [
    ("category", g.Category),
    ("channel", g.Channel),
    ("how", g.ResolvedHow),
    ("grievance_status", GrievanceStatus),
    ("dispute_category", DisputeCategory),
    ("dispute_status", DisputeStatus),
    ("suggestion_status", SuggestionStatus),
    ("kind", s.Kind),
    ("topic", s.Topic),
    ("vote", s.Vote),
    ("outcome", s.Outcome),
    ("query_status", QueryStatus),
    ("query_area", s.QueryArea),
    ("role", Role),
    ("followup_kind", fu.FollowupKind),
    ("followup_status", FollowupStatus),
    ("satisfaction", fu.Satisfaction),
]


def _values(vocabulary: object) -> list[str]:
    """The values of a Literal, or of a union of Literals."""
    args = get_args(vocabulary)
    if all(isinstance(a, str) for a in args):
        return list(args)
    return [v for a in args for v in _values(a)]


@pytest.mark.parametrize(("group", "vocabulary"), VOCABULARIES, ids=[v[0] for v in VOCABULARIES])
def test_every_value_of_a_vocabulary_has_words_in_both_languages(
    group: str, vocabulary: object
) -> None:
    values = {str(v) for v in _values(vocabulary)}
    assert values <= set(ENUMS[group]), values - set(ENUMS[group])
    assert all(zh and en and zh != en for zh, en in ENUMS[group].values())


def test_every_event_type_has_words_for_the_timeline() -> None:
    registered = {
        t
        for t in REGISTRY.types()
        if t.split(".")[0] in ("grievance", "dispute", "suggestion", "followup")
    }
    assert registered
    assert registered <= set(ENUMS["event"]), registered - set(ENUMS["event"])


def test_every_label_the_templates_use_exists_in_both_languages() -> None:
    used = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_.0-9]+)'", template.read_text(encoding="utf-8")))
    assert used, "the templates use labels"
    assert used <= set(LABELS), used - set(LABELS)
    assert all(zh.strip() and en.strip() for zh, en in LABELS.values())


def test_dates_are_shown_in_china_time_in_each_language() -> None:
    zh, en = Words("zh"), Words("en")
    assert zh.datetime("2026-11-24T16:30:00Z") == "2026年11月25日 00:30"
    assert en.datetime("2026-11-24T16:30:00+00:00") == "25 Nov 2026 00:30"
    assert zh.date("2026-10-01") == "2026年10月1日" and en.date("2026-10-01") == "1 Oct 2026"
    assert zh.date(None) == "—" and zh.enum("category", None) == "—"
    assert en("sla.left", n=2) == "2 days left" and zh("sla.left", n=2) == "剩 2 天"
    assert en("days.left", n=1) == "1 day left" and zh("days.left", n=1) == "剩 1 天"
    assert zh("lang.switch") == "English" and en("lang.switch") == "中文"


@pytest.mark.parametrize(
    ("left", "tone"),
    [(15, "green"), (6, "green"), (5, "amber"), (3, "amber"), (2, "red"), (0, "red"), (-1, "red")],
)
def test_the_mediation_clock_turns_amber_at_5_days_and_red_at_2(left: int, tone: str) -> None:
    shown = clock(left)
    assert shown is not None and shown["tone"] == tone
    assert 0 <= shown["percent"] <= 100


def test_no_clock_before_acceptance() -> None:
    assert clock(None) is None


def test_the_running_service_level_is_acknowledge_then_answer() -> None:
    soon = (today() + timedelta(days=3)).isoformat()
    past = (today() - timedelta(days=1)).isoformat()
    logged = service_level({"status": "logged", "ack_due": today().isoformat(), "answer_due": soon})
    assert logged == {"stage": "ack", "due": today().isoformat(), "left": 0, "tone": "red"}
    answering = service_level({"status": "acknowledged", "ack_due": past, "answer_due": soon})
    assert answering is not None and (answering["stage"], answering["left"]) == ("answer", 3)
    assert answering["tone"] == "green"
    assert service_level({"status": "resolved", "ack_due": past, "answer_due": soon}) is None


def test_the_live_tally_counts_against_quorum_and_a_majority_of_all_members() -> None:
    members = ["a", "b", "c", "d", "e"]
    case: dict[str, Any] = {
        "review": {"members": members},
        "votes": {"a": "for", "b": "for", "c": "for"},
    }
    counted = tally(case)
    assert counted is not None
    assert (counted["for"], counted["voted"], counted["quorum"], counted["majority"]) == (
        3,
        3,
        4,
        3,
    )
    assert counted["carried"] and not counted["has_quorum"]
    case["votes"] = {"a": "for", "b": "for", "c": "against", "d": "abstain"}
    counted = tally(case)
    assert counted is not None and counted["has_quorum"] and not counted["carried"]
    assert tally({"review": None}) is None


def test_the_slider_asks_for_the_moment_of_the_chosen_event() -> None:
    timeline = [{"recorded_at": f"2026-11-2{i}T08:00:00.000000Z"} for i in range(1, 4)]
    assert chosen_moment(timeline, None) == (3, None)
    assert chosen_moment(timeline, 2) == (2, "2026-11-22T08:00:00.000000Z")
    assert chosen_moment(timeline, 0) == (1, "2026-11-21T08:00:00.000000Z")
    assert chosen_moment(timeline, 99) == (3, None)
    assert chosen_moment([], 1) == (0, None)


def test_the_chain_badge_names_the_first_finding_of_the_verdict() -> None:
    clean = {
        "clean": True,
        "events": 3,
        "findings": [],
        "keys": {"believed": ["intake:0a1b", "intake:2c3d"], "relied_on": ["intake:2c3d"]},
        "checkpoint": {"position": "audit.checkpoints/0@4"},
    }
    assert chain_badge(clean) == {
        "ok": True,
        "count": 3,
        "keys": "intake:2c3d",
        "checkpoint": "audit.checkpoints/0@4",
    }
    broken = {
        "clean": False,
        "events": 3,
        "findings": [
            {"kind": "hash_mismatch", "topic": "grievance.events", "partition": 0, "offset": 12}
        ],
        "checkpoint": None,
    }
    assert chain_badge(broken) == {
        "ok": False,
        "what": "hash mismatch",
        "position": "grievance.events/0/12",
        "count": 3,
        "keys": "—",
        "checkpoint": "—",
    }
    assert chain_badge(None) is None


def test_the_lineage_is_a_tree_from_its_root_each_case_under_its_cause() -> None:
    lineage = {
        "case_id": "FUP-CCCC3333",
        "root": "GRV-AAAA1111",
        "cases": ["GRV-AAAA1111", "DSP-BBBB2222", "FUP-CCCC3333"],
        "links": [
            {"from": "GRV-AAAA1111", "to": "DSP-BBBB2222", "caused_by": "grievance.escalated"},
            {"from": "GRV-AAAA1111", "to": "FUP-CCCC3333", "caused_by": "grievance.resolved"},
        ],
    }
    rows = lineage_tree(lineage)
    assert [(r["case_id"], r["depth"]) for r in rows] == [
        ("GRV-AAAA1111", 0),
        ("DSP-BBBB2222", 1),
        ("FUP-CCCC3333", 1),
    ]
    assert rows[2]["via"]["caused_by"] == "grievance.resolved"
    assert lineage_tree(None) == []


def test_refusals_are_put_in_words_a_rep_understands() -> None:
    zh = Words("zh")
    conflict = friendly(zh, ApiError(409, "Conflict", "cannot close grievance: it is logged"))
    assert conflict == {
        "message": "案件当前状态下不能这样办理。",
        "detail": "cannot close grievance: it is logged",
    }
    crash = friendly(zh, ApiError(500, "Error", "Traceback (most recent call last): ..."))
    assert crash == {"message": "系统出了点问题，请稍后再试。", "detail": ""}
    down = friendly(Words("en"), ApiError(503, "Unavailable", "intake cannot be reached"))
    assert down["detail"] == "" and "what you typed is kept" in down["message"]


def test_each_view_of_the_followup_queue_asks_the_service_for_its_filter() -> None:
    assert filters("all", "fup-1") == {}
    assert filters("mine", "fup-1") == {"owner": "fup-1"}
    assert filters("overdue", "fup-1") == {"overdue": "true"}


def test_followups_overdue_first_then_by_due_date() -> None:
    items = [
        {"case_id": "FUP-3", "due": "2026-12-03", "overdue": False},
        {"case_id": "FUP-2", "due": "2026-11-30", "overdue": True},
        {"case_id": "FUP-1", "due": "2026-12-01", "overdue": False},
        {"case_id": "FUP-0", "due": "2026-11-29", "overdue": True},
    ]
    assert [f["case_id"] for f in by_urgency(items)] == ["FUP-0", "FUP-2", "FUP-1", "FUP-3"]


def test_charts_are_inline_svg_with_escaped_labels_and_their_numbers() -> None:
    svg = str(bar_chart("建议<与>诉求", [("合理化建议", 58), ("<b>", 36)]))
    assert svg.startswith("<svg") and "&lt;b&gt;" in svg and "<b>" not in svg
    assert ">58</text>" in svg and ">36</text>" in svg
    rates = str(rate_chart("rates", [("采纳率", 1.0), ("满意率", None)], "暂无数据"))
    assert ">100%</text>" in rates and "暂无数据" in rates
    assert (percent(1.0), percent(0.9811), percent(None)) == ("100%", "98.11%", "—")


def test_demo_users_cover_every_working_role_in_known_units() -> None:
    settings = Settings()
    users = load_demo_users(settings)
    units = load_units(settings.units_file)
    roles = {u["role"] for u in users}
    assert {
        "worker_rep",
        "group_member",
        "union_chair",
        "mediator",
        "followup_officer",
        "auditor",
    } <= roles
    assert len({u["id"] for u in users}) == len(users)
    assert all(units.get(u["unit"]) is not None and u["name_zh"] and u["name_en"] for u in users)
    reps = {u["unit"] for u in users if u["role"] == "worker_rep"}
    assert len(reps) >= 2, "two units' reps, to show that one cannot see the other's cases"


def test_demo_sign_in_is_only_for_development_and_only_when_asked_for() -> None:
    assert demo_sign_in_allowed(Settings(environment="development", demo_sign_in=True))
    assert not demo_sign_in_allowed(Settings(environment="development"))
    for environment in ("test", "production"):
        assert not demo_sign_in_allowed(
            Settings(environment=environment, jwt_secret="x" * 32, master_key="y" * 32)
        )
        with pytest.raises(ValueError, match="DEMO_SIGN_IN"):
            Settings(
                environment=environment,
                jwt_secret="x" * 32,
                master_key="y" * 32,
                demo_sign_in=True,
            )


@pytest.mark.parametrize(
    ("target", "safe"),
    [
        ("/grievances?x=1", "/grievances?x=1"),
        ("//evil.example", "/"),
        ("/\\evil.com", "/"),
        ("/\\/evil.com", "/"),
        ("/%5Cevil.com", "/%5Cevil.com"),
        ("https://evil", "/"),
        ("/\tevil", "/"),
        ("evil.com", "/"),
        ("", "/"),
        (None, "/"),
    ],
)
def test_the_language_switch_only_returns_to_this_site(target: str | None, safe: str) -> None:
    assert safe_next(target) == safe


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_worker_is_told_every_next_step_in_words(lang: Lang) -> None:
    words = Words(lang)
    cases = [("grievance", s) for s in GRIEVANCE_NEXT.values()]
    cases += [("dispute", s) for s in DISPUTE_NEXT.values()]
    for kind, step in cases:
        for by in (None, "2026-12-01"):
            text = said(words, {"kind": kind, "next": step, "next_by": by}, "note")
            assert text["next"] and not text["next"].startswith("next."), (kind, step, by)
            assert "{date}" not in text["next"] and text["done"] != "receipt.done.note"


def test_the_as_of_picker_is_read_in_china_time() -> None:
    assert moment("2026-01-01T00:00") == "2026-01-01T00:00:00+08:00"
    assert moment("2026-01-01T00:00:00+00:00") == "2026-01-01T00:00:00+00:00"
    assert moment("") is None and moment("yesterday") is None and moment("1999-12-31T23:00") is None
