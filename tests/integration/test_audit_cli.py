"""The auditor's command line against the real log: replay, point in time, verify."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.integration.conftest import GRIEVANCE, Stack

pytestmark = pytest.mark.integration


def lifecycle(rep: httpx.Client) -> tuple[str, str]:
    """Log, acknowledge and resolve a grievance; return its id and a moment before the resolve."""
    case = rep.post("/grievances", json=GRIEVANCE).json()["case_id"]
    assert rep.post(f"/grievances/{case}/acknowledge", json={}).status_code == 200
    time.sleep(0.05)
    history = rep.get(f"/grievances/{case}/history").json()["events"]
    between = history[-1]["recorded_at"].replace("Z", "+00:00")
    time.sleep(0.05)
    resolved = rep.post(
        f"/grievances/{case}/resolve", json={"how": "on_site", "resolution": "食堂整改"}
    )
    assert resolved.status_code == 200
    return case, between


def test_replay_rebuilds_the_state_from_the_log(stack: Stack, rep: httpx.Client) -> None:
    case, _ = lifecycle(rep)
    result = stack.cli("audit", "replay", case, "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["state"]["status"] == "resolved"
    assert [e["event_type"] for e in body["timeline"]] == [
        "grievance.logged",
        "grievance.acknowledged",
        "grievance.resolved",
    ]
    # The same rules give the same state as the live read model.
    live = rep.get(f"/grievances/{case}").json()
    # The view opens the sealed summary and resolution for the rep; the replay keeps them as
    # recorded.
    sealed = ("summary", "resolution")
    assert all(body["state"][key]["kid"].startswith("PER-") for key in sealed)
    assert live["resolution"] == "食堂整改" and live["summary"] == GRIEVANCE["summary"]
    for key, value in body["state"].items():
        assert live[key] == value or key in sealed, key
    table = stack.cli("audit", "replay", case)
    assert table.returncode == 0 and "grievance.resolved" in table.stdout
    assert "王小林" not in table.stdout and "[sealed]" in table.stdout


def test_replay_at_a_moment_shows_the_case_as_it_stood(stack: Stack, rep: httpx.Client) -> None:
    case, between = lifecycle(rep)
    result = stack.cli("audit", "replay", case, "--at", between, "--format", "json")
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    assert body["state"]["status"] == "acknowledged"
    assert len(body["timeline"]) == 2
    before = stack.cli("audit", "replay", case, "--at", "2020-01-01T00:00:00+08:00")
    assert before.returncode == 3
    assert "did not exist yet" in before.stderr
    assert "Traceback" not in before.stderr


def test_verify_a_clean_case_and_the_whole_log(stack: Stack, rep: httpx.Client) -> None:
    case, _ = lifecycle(rep)
    one = stack.cli("audit", "verify", case)
    assert one.returncode == 0, one.stdout + one.stderr
    assert "1 case(s), 3 record(s)" in one.stdout and "0 finding(s)" in one.stdout
    everything = stack.cli("audit", "verify", "--all")
    assert everything.returncode == 0, everything.stdout
    assert "0 finding(s)" in everything.stdout


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (("audit", "replay", "GRV-NOSUCHCASE0"), 3, "no case GRV-NOSUCHCASE0"),
        (("audit", "replay", "not-a-case"), 2, "is not a case id"),
        (("audit", "verify"), 2, "give a case id or --all"),
        (("audit", "replay", "GRV-NOSUCHCASE0", "--at", "yesterday"), 2, "not an ISO time"),
    ],
)
def test_bad_audit_input_is_one_line_and_a_distinct_exit_code(
    stack: Stack, args: tuple[str, ...], code: int, says: str
) -> None:
    result = stack.cli(*args)
    assert result.returncode == code, result.stdout + result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_unreachable_broker_is_exit_4(stack: Stack) -> None:
    env_broker = stack.env["KAFKA_BOOTSTRAP_SERVERS"]
    stack.env["KAFKA_BOOTSTRAP_SERVERS"] = "127.0.0.1:1"
    try:
        result = stack.cli("audit", "verify", "GRV-ABCDEFGHIJKL")
    finally:
        stack.env["KAFKA_BOOTSTRAP_SERVERS"] = env_broker
    assert result.returncode == 4, result.stdout + result.stderr
    assert "cannot read the log" in result.stderr and "Traceback" not in result.stderr
