"""Replicas that agree: two intake APIs, two intake workers and two mediation APIs on one
broker and one shared key vault.

Each replica keeps its read model in a data folder of its own, rebuilt from the log; the keys
that open a worker's name and phone live in PostgreSQL, which every replica shares.
"""

from __future__ import annotations

import shutil
import signal
from collections.abc import Iterator
from datetime import date, timedelta
from functools import partial
from typing import Any

import httpx
import pytest

from contracts.personal import ERASED
from tests.integration.conftest import GRIEVANCE, Stack, warm_up
from tests.integration.polling import eventually
from tests.integration.reading import ok
from tests.integration.takeovers import wait_members

pytestmark = [pytest.mark.integration, pytest.mark.one_store]

NAME, PHONE = "司马青山", "13712345678"
# The second API, and the second worker, each with a data folder of its own.
API_B, WORKER_B = "b", "w2"
CASES = 12
# A worker killed outright leaves its group once this many seconds pass without a heartbeat.
SESSION_S = 6
CHAIR = {"user": "chair-co", "role": "union_chair", "unit": "demo/co"}
APPLICATION = {
    "unit": "demo/co/p01",
    "form": "written",
    "applicant": {"name": NAME, "phone": PHONE},
    "respondent": {"employer": "演示建设集团有限公司", "management": ["pm-p01"]},
    "category": "remuneration",
    "matters": "十一月工资被克扣两千元",
    "claims": [{"description": "补发被克扣的十一月工资", "amount": "2000.00"}],
    "known_since": (date.today() - timedelta(days=30)).isoformat(),
}


@pytest.fixture(scope="module")
def rstack(
    bootstrap: str, postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    """Intake twice over: two workers in one group, two APIs, one shared vault."""
    with Stack(bootstrap, tmp_path_factory.mktemp("replicas"), "replicas") as s:
        s.env["DATABASE_URL"] = postgres_url
        s.env["TAIZHANG_SESSION_TIMEOUT_S"] = str(SESSION_S)
        s.spawn("intake", "worker")
        s.spawn("intake", "worker", WORKER_B)
        s.spawn("intake", "api")
        s.spawn("intake", "api", API_B)
        warm_up(s)
        yield s


def read(client: httpx.Client, gid: str) -> dict[str, Any]:
    """A grievance once this replica's read model has it."""
    found = eventually(
        lambda: client.get(f"/grievances/{gid}"),
        until=lambda response: response.status_code == 200,
        timeout=60,
        what=f"{client.base_url} to read {gid}",
    )
    return ok(found)


def field(client: httpx.Client, gid: str, name: str) -> Any:
    """One field of a grievance as this replica reads it."""
    return read(client, gid)[name]


def test_a_grievance_logged_on_one_replica_is_read_whole_on_the_other(rstack: Stack) -> None:
    with rstack.client("intake") as a, rstack.client("intake", API_B) as b:
        body = {**GRIEVANCE, "complainant": {"name": NAME, "phone": PHONE}}
        gid = ok(a.post("/grievances", json=body), 201)["case_id"]
        assert read(b, gid)["complainant"] == {"name": NAME, "phone": PHONE}
        back = ok(b.post("/grievances", json=body), 201)["case_id"]
        there = read(a, back)
        assert there["complainant"] == {"name": NAME, "phone": PHONE}
        assert there["person_id"] == read(b, gid)["person_id"], "one phone, one person"


def test_a_replica_restarted_on_an_empty_folder_loses_nothing(rstack: Stack) -> None:
    with rstack.client("intake") as a:
        body = {**GRIEVANCE, "complainant": {"name": NAME, "phone": PHONE}}
        gid = ok(a.post("/grievances", json=body), 201)["case_id"]
    rstack.kill("intake", "api", signal.SIGKILL, API_B)
    # Whatever the replica kept on its disk, if anything: its read model and keys are shared.
    shutil.rmtree(rstack.replica_dir(API_B), ignore_errors=True)
    rstack.spawn("intake", "api", API_B)
    with rstack.client("intake", API_B) as b:
        assert read(b, gid)["complainant"] == {"name": NAME, "phone": PHONE}
    assert not list(rstack.replica_dir(API_B).rglob("vault*")), "no key is kept on the replica"


def test_an_erasure_reaches_every_replica_within_seconds(rstack: Stack) -> None:
    with rstack.client("intake") as a, rstack.client("intake", API_B) as b:
        body = {**GRIEVANCE, "complainant": {"name": "上官晓月", "phone": "13755550000"}}
        gid = ok(a.post("/grievances", json=body), 201)["case_id"]
        person = read(b, gid)["person_id"]
        done = rstack.cli("privacy", "erase", "--person", person, "--reason", "worker_request")
        assert done.returncode == 0, done.stderr
        for replica in (a, b):
            eventually(
                partial(field, replica, gid, "complainant"),
                until=lambda seen: seen == {"name": ERASED, "phone": ERASED},
                timeout=15,
                what=f"{replica.base_url} to hear of the erasure",
            )


def test_another_services_replicas_agree_and_know_the_same_person(rstack: Stack) -> None:
    rstack.spawn("mediation", "worker")
    rstack.spawn("mediation", "api")
    rstack.spawn("mediation", "api", API_B)
    with (
        rstack.client("mediation", **CHAIR) as a,
        rstack.client("mediation", API_B, **CHAIR) as b,
        rstack.client("intake") as intake,
    ):
        applied = eventually(
            partial(a.post, "/disputes", json=APPLICATION),
            until=lambda response: response.status_code == 201,
            timeout=90,
            what="the mediation worker to open a dispute",
        )
        dsp = ok(applied, 201)["case_id"]
        found = eventually(
            partial(b.get, f"/disputes/{dsp}"),
            until=lambda response: response.status_code == 200,
            timeout=60,
            what="the second mediation API to read the dispute",
        )
        dispute = ok(found)
        assert dispute["applicant"] == {"name": NAME, "phone": PHONE}
        body = {**GRIEVANCE, "complainant": {"name": NAME, "phone": PHONE}}
        gid = ok(intake.post("/grievances", json=body), 201)["case_id"]
        assert dispute["person_id"] == read(intake, gid)["person_id"], "one phone, one person"


def test_two_workers_split_the_cases_and_one_killed_hands_them_over(rstack: Stack) -> None:
    wait_members(rstack, 2)
    with rstack.client("intake") as a, rstack.client("intake", API_B) as b:
        anonymous = {**GRIEVANCE, "anonymous": True, "complainant": None}
        cases = [ok(a.post("/grievances", json=anonymous), 201)["case_id"] for _ in range(CASES)]
        rstack.kill("intake", "worker", signal.SIGKILL, WORKER_B)
        for gid in cases:
            # Until the group notices the worker gone, its partitions' commands wait; a
            # command stored but not yet answered is refused as a repeat when sent again.
            eventually(
                partial(b.post, f"/grievances/{gid}/acknowledge", json={}),
                until=lambda response: response.status_code in (200, 409),
                timeout=120,
                interval=1,
                what=f"the remaining worker to answer for {gid}",
            )
        for gid in cases:
            eventually(
                partial(field, a, gid, "status"),
                until=lambda status: status == "acknowledged",
                timeout=30,
                what=f"{gid} to be acknowledged",
            )
    wait_members(rstack, 1)
