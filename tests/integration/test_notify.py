"""Notifications on the running system: reminders in the mailbox once, texts at the gateway."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from kafka.admin import OffsetSpec
from kafka.errors import KafkaError, NoError
from playwright.sync_api import sync_playwright

from services.cli.deployment import free_port
from services.common import heartbeat
from services.common import kafka as kafka_kit
from services.common.keystore import open_vault
from services.common.settings import ROOT
from services.common.vault import Sealer
from tests.integration.conftest import GRIEVANCE, SECRET, Stack, warm_up
from tests.integration.polling import consistently, eventually
from tests.integration.reading import ok
from tests.integration.test_mediation_http import application
from tests.integration.test_portal_e2e import ARGS, CHROMIUM, DESKTOP, PHONE

SHOTS = ROOT / "test-artifacts" / "notify"
CHAIR = {"user": "chair-p01", "role": "union_chair", "unit": "demo/co/p01"}
# Mediation and owners' reminders at once (15 working days back from a date 15 days ahead is
# today or earlier); acceptance reminders on the working day before the acceptance date.
DIRECTORY = """
people:
  - {id: chair-p01, role: union_chair, unit: demo/co/p01, email: chair-p01@union.example}
  - {id: med-1, role: mediator, unit: demo/co, email: med-1@union.example}
leads:
  demo: {acceptance: 1, mediation: 15, owner: 15}
quiet_hours: {from: 0, to: 0}
"""


@pytest.fixture(scope="module")
def nstack(bootstrap: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Intake, mediation and notifications on their own topic prefix, for this module."""
    root = tmp_path_factory.mktemp("notify")
    with Stack(bootstrap, root, "notify") as s:
        directory = root / "notify.yaml"
        directory.write_text(DIRECTORY, encoding="utf-8")
        s.ports["notify"] = free_port()
        s.env.update(
            {
                "TAIZHANG_NOTIFY_SMTP_PORT": str(free_port()),
                "TAIZHANG_NOTIFY_GATEWAY_URL": f"{s.url('notify')}/dev/gateway/messages",
                "TAIZHANG_NOTIFY_DIRECTORY_FILE": str(directory),
            }
        )
        s.start("intake")
        s.start("mediation")
        s.start("notify")
        warm_up(s)
        s.start_portal()
        yield s


def mailbox(stack: Stack) -> list[dict[str, Any]]:
    with stack.client("notify", **CHAIR) as client:
        items: list[dict[str, Any]] = ok(client.get("/dev/mailbox"))["items"]
        return items


def texts(stack: Stack) -> list[dict[str, Any]]:
    with stack.client("notify", **CHAIR) as client:
        items: list[dict[str, Any]] = ok(client.get("/dev/gateway"))["items"]
        return items


def about(items: list[dict[str, Any]], receipt: str) -> list[dict[str, Any]]:
    return [m for m in items if receipt in m["text"]]


def replay_from_the_start(stack: Stack) -> None:
    """Move the notification worker's group back to the first offset of all it has read."""
    group = f"{stack.prefix}taizhang-notify"
    client = kafka_kit.admin(stack.settings)

    def reset() -> list[str]:
        """The partitions whose offset could not be moved yet (while the killed member counts)."""
        read = client.list_group_offsets({group: None})[group]
        answers = client.reset_group_offsets(group, dict.fromkeys(read, OffsetSpec.EARLIEST))
        return [str(tp) for tp, answer in answers.items() if answer["error"] is not NoError]

    try:
        # The group empties once the broker notices the killed member is gone.
        eventually(
            reset,
            until=lambda refused: not refused,
            timeout=60,
            interval=2,
            what="the worker's group to be reset",
            ignoring=(KafkaError,),
        )
    finally:
        client.close()


def test_a_dispute_reminds_once_even_after_a_restart_and_a_replay(nstack: Stack) -> None:
    with nstack.client("mediation", **CHAIR) as chair, nstack.client("notify", **CHAIR) as notes:
        dsp = ok(chair.post("/disputes", json=application()), 201)["case_id"]
        planned = eventually(
            lambda: ok(notes.get("/notifications")),
            until=lambda page: any(n["source_case_id"] == dsp for n in page["items"]),
            what="the acceptance reminder to be planned for the chair",
        )
        [acceptance] = [n for n in planned["items"] if n["source_case_id"] == dsp]
        assert acceptance["template"] == "acceptance_due" and acceptance["status"] == "planned"
        ok(chair.post(f"/disputes/{dsp}/accept", json={}))
        ok(chair.post(f"/disputes/{dsp}/assign", json={"mediator": "med-1"}))
        # The acceptance date was met before its reminder went out: cancelled, never sent.
        met = eventually(
            lambda: ok(notes.get(f"/notifications/{acceptance['case_id']}")),
            until=lambda n: n["status"] == "cancelled",
            what="the met acceptance reminder to be cancelled",
        )
        assert met["cancel_reason"] == "deadline_met"
        mails = eventually(
            lambda: about(mailbox(nstack), dsp),
            until=lambda found: (
                {m["recipient"] for m in found}
                == {"chair-p01@union.example", "med-1@union.example"}
            ),
            timeout=60,
            what="the mediation reminders in the local mailbox",
        )
        assert all("调解期限" in m["subject"] for m in mails) and len(mails) == 2
        sent = eventually(
            lambda: ok(notes.get("/notifications", params={"status": "sent"}))["items"],
            until=lambda items: any(n["source_case_id"] == dsp for n in items),
            what="the chair's reminder to be recorded as sent",
        )
        mine = next(n for n in sent if n["source_case_id"] == dsp)
        ok(notes.post(f"/notifications/{mine['case_id']}/acknowledge", json={}))
        view = ok(notes.get("/notifications/unit"))
        assert view["counts"].get("acknowledged") == 1 and view["counts"].get("cancelled") == 1

    nstack.kill("notify", "worker", signal.SIGKILL)
    replay_from_the_start(nstack)
    logged = len(nstack.log("notify", "worker"))
    nstack.spawn("notify", "worker")
    nstack.kill("notify", "api", signal.SIGTERM)
    nstack.spawn("notify", "api")
    eventually(
        lambda: nstack.log("notify", "worker")[logged:],
        until=lambda text: "reaction.sent" in text,
        timeout=90,
        what="the restarted worker to answer the replayed events again",
    )
    # The replayed events plan and record nothing new, and nothing is sent again.
    consistently(
        lambda: len(about(mailbox(nstack), dsp)),
        until=lambda count: count == 2,
        during=20,
        what="each reminder in the mailbox once after the replay",
    )


def test_a_worker_who_agreed_gets_progress_texts_and_an_erased_worker_nothing(
    nstack: Stack,
) -> None:
    agreed = {
        **GRIEVANCE,
        "complainant": {"name": "王小林", "phone": "13800000011", "progress_messages": True},
    }
    erased = {
        **GRIEVANCE,
        "complainant": {"name": "赵六", "phone": "13800000012", "progress_messages": True},
    }
    silent = {**GRIEVANCE, "complainant": {"name": "钱七", "phone": "13800000013"}}
    with nstack.client("intake") as intake:
        first = ok(intake.post("/grievances", json=agreed), 201)["case_id"]
        second = ok(intake.post("/grievances", json=erased), 201)["case_id"]
        third = ok(intake.post("/grievances", json=silent), 201)["case_id"]
        received = eventually(
            lambda: texts(nstack),
            until=lambda items: bool(about(items, first)) and bool(about(items, second)),
            what="the receipt texts at the local gateway",
        )
        [text] = about(received, first)
        assert text["recipient"] == "13800000011" and text["kind"] == "sms"
        assert f"受理编号{first}" in text["text"]
        # The deployment's own vault, wherever it keeps its keys.
        vault = open_vault(nstack.settings)
        try:
            assert Sealer(vault, SECRET).erase(Sealer(vault, SECRET).person_id("13800000012"))
        finally:
            vault.close()
        for gid in (first, second, third):
            ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
            ok(
                intake.post(
                    f"/grievances/{gid}/resolve", json={"how": "on_site", "resolution": "已整改"}
                )
            )
        eventually(
            lambda: about(texts(nstack), first),
            until=lambda found: len(found) == 3,
            what="the accepted and resolved texts of the worker who agreed",
        )
    consistently(
        lambda: (len(about(texts(nstack), second)), len(about(texts(nstack), third))),
        until=lambda counts: counts == (1, 0),
        during=5,
        what="nothing more for the erased worker and nothing for the one who did not agree",
    )


def test_the_worker_says_it_is_alive_each_time_its_loop_turns(nstack: Stack) -> None:
    alive = heartbeat.heartbeat_file(nstack.var, "notify")
    eventually(
        lambda: heartbeat.age_s(alive),
        until=lambda age: age is not None and age <= 2 * heartbeat.INTERVAL_S,
        timeout=60,
        what="the notification worker's loop to touch its file",
    )


def test_an_owner_without_an_address_fails_for_good_and_is_parked(nstack: Stack) -> None:
    due = (datetime.now(UTC) + timedelta(days=10)).date().isoformat()
    with nstack.client("intake", **CHAIR) as intake:
        body = {**GRIEVANCE, "anonymous": True, "complainant": None}
        gid = ok(intake.post("/grievances", json=body), 201)["case_id"]
        ok(intake.post(f"/grievances/{gid}/acknowledge", json={}))
        ok(intake.post(f"/grievances/{gid}/escalate", json={"owner": "owner-x", "due": due}))
    with nstack.client("notify", **CHAIR) as notes:
        failed = eventually(
            lambda: ok(notes.get("/notifications/unit"))["items"],
            until=lambda items: any(
                n["source_case_id"] == gid and n["status"] == "failed" for n in items
            ),
            what="the owner's reminder to fail for want of an address",
        )
    [note] = [n for n in failed if n["source_case_id"] == gid]
    assert note["recipient"] == "owner-x" and note["attempts"] == 1
    assert note["last_failure"] == "no_address"
    log = eventually(
        lambda: nstack.log("notify", "worker"),
        until=lambda text: note["case_id"] in text and "record.dead_lettered" in text,
        what="the failed message parked on the dead-letter topic",
    )
    assert "owner-x@" not in log


def test_the_pages_show_a_chair_their_reminders_settings_and_the_local_outbox(
    nstack: Stack,
) -> None:
    with nstack.client("mediation", **CHAIR) as chair:
        dsp = ok(chair.post("/disputes", json=application()), 201)["case_id"]
    assert CHROMIUM.exists(), "install Debian's chromium package (make test does)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    portal = nstack.url("portal")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        try:
            context = browser.new_context(
                viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai"
            )
            page = context.new_page()
            page.set_default_timeout(30_000)
            page.goto(f"{portal}/signin")
            page.click("button[data-user='chair-p01']")
            page.wait_for_load_state()
            page.click("a[href='/notifications']")
            mine = page.locator(f"#notifications li[data-source='{dsp}']")

            def reload_count() -> int:
                page.reload()
                return mine.count()

            eventually(reload_count, until=lambda n: n == 1, what="the new reminder on the page")
            assert "调解申请待受理" in mine.inner_text()
            page.screenshot(path=str(SHOTS / "1-my-notifications.png"), full_page=True)
            page.check("input[name='channel'][value='wecom']")
            page.fill("#quiet_from", "21")
            page.fill("#quiet_to", "7")
            page.click("button[data-action='settings']")
            page.wait_for_selector("#done")
            assert page.locator("#quiet_from").input_value() == "21"
            assert page.locator("input[name='channel'][value='wecom']").is_checked()
            page.screenshot(path=str(SHOTS / "2-settings-saved.png"), full_page=True)
            page.set_viewport_size(DESKTOP)
            page.click("a[href='/notifications/unit']")
            rows = page.locator("#reminders tr[data-status]")
            assert rows.count() >= 1 and "待发送" in page.locator("#counts").inner_text()
            page.screenshot(path=str(SHOTS / "3-unit-reminders.png"), full_page=True)
            page.goto(f"{portal}/notifications/outbox")
            assert (
                page.locator("#mailbox li").count() >= 2
                and page.locator("#gateway li").count() >= 1
            )
            assert "调解期限" in page.locator("#mailbox").inner_text()
            page.screenshot(path=str(SHOTS / "4-local-outbox.png"), full_page=True)
            page.click("a.lang")
            page.goto(f"{portal}/notifications")
            assert "My notifications" in page.locator("h1").inner_text()
        finally:
            browser.close()
