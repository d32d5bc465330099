"""`taizhang up` as a user runs it: parts restarted by themselves, stopped together, begun anew."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.cli.deployment import free_port, unbound
from services.cli.lifecycle import stop_grace
from services.cli.supervisor import SupervisorSettings
from services.common.settings import ROOT
from tests.integration.conftest import SECRET
from tests.integration.polling import eventually

pytestmark = [pytest.mark.integration, pytest.mark.one_store]

UP = ["up", "--broker", "--no-seed", "--service", "intake"]
RESTART_DELAY_S = 12  # longer than the broker takes to see a killed worker leave its group
# The longest a stop may take: the supervisor's grace, which outlasts its broker's shutdown.
GRACES = SupervisorSettings.model_fields
STOP_BOUND_S = stop_grace(
    "supervisor", GRACES["stop_grace_s"].default, GRACES["broker_stop_grace_s"].default
)


def running(pid: int) -> bool:
    """Whether a process runs (a zombie waiting for its parent does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] not in ("Z", "X")


def stopped(said: str) -> set[str]:
    """The parts a `taizhang up` or `down` says it stopped."""
    line = next(line for line in said.splitlines() if line.startswith("stopped "))
    return set(line.removeprefix("stopped ").split(" in ")[0].split(", "))


class Deployment:
    """One deployment on its own var folder, broker port, API port and topic prefix."""

    def __init__(self, root: Path) -> None:
        self.var = root / "var"
        (self.var / "kafka").mkdir(parents=True)
        (self.var / "kafka" / "libs").symlink_to(ROOT / "var" / "kafka" / "libs")
        broker = free_port()
        while not unbound(broker + 1):
            broker = free_port()
        self.api = free_port()
        self.env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{broker}",
            "TAIZHANG_VAR_DIR": str(self.var),
            "TAIZHANG_TOPIC_PREFIX": f"sv{uuid.uuid4().hex[:8]}.",
            "TAIZHANG_PORT_OFFSET": str(self.api - 8001),
            "TAIZHANG_ENVIRONMENT": "test",
            "TAIZHANG_JWT_SECRET": SECRET,
            "TAIZHANG_MASTER_KEY": SECRET,
            "TAIZHANG_SESSION_TIMEOUT_S": "6",
            "TAIZHANG_WORKER_GRACE_S": "3",
            "TAIZHANG_WORKER_CHECK_S": "0.5",
            "TAIZHANG_RESTART_DELAY_S": str(RESTART_DELAY_S),
            "COLUMNS": "200",
        }

    def cli(self, *args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli.main", *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=timeout,
            check=False,
        )

    def attached(self) -> subprocess.Popen[bytes]:
        """`make run`: the supervisor in the foreground."""
        with (self.var / "up.out").open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", *UP, "--foreground"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=self.env,
                cwd=ROOT,
            )

    def health(self) -> tuple[int, dict[str, Any]]:
        response = httpx.get(f"http://127.0.0.1:{self.api}/health", timeout=5)
        return response.status_code, response.json()

    def healthy(self, timeout: float = 180) -> dict[str, Any]:
        return eventually(
            self.health,
            until=lambda r: r[0] == 200 and r[1]["worker"] is True,
            timeout=timeout,
            interval=0.5,
            ignoring=(httpx.HTTPError,),
            what="intake's /health to be ok with its worker",
        )[1]

    def pids(self) -> dict[str, int]:
        """The pids this deployment's pid files name, by part."""
        files = [*(self.var / "run").glob("*.pid"), *(self.var / "kafka").glob("*/broker.pid")]
        return {f.stem: int(f.read_text()) for f in files}

    def journal(self) -> str:
        return (self.var / "log" / "supervisor.log").read_text()

    def stop_all(self) -> None:
        """Leave nothing behind, whatever a failed test left."""
        self.cli("down", timeout=STOP_BOUND_S + 60)


def test_a_killed_worker_comes_back_by_itself_and_ctrl_c_stops_everything(tmp_path: Path) -> None:
    deployment = Deployment(tmp_path)
    up = deployment.attached()
    try:
        deployment.healthy()
        first = deployment.pids()
        assert sorted(first) == ["broker", "intake-api", "intake-worker", "supervisor"]
        assert first["supervisor"] == up.pid
        os.kill(first["intake-worker"], signal.SIGKILL)

        _, body = eventually(
            deployment.health,
            until=lambda r: r[0] == 503,
            timeout=RESTART_DELAY_S + 20,
            interval=0.3,
            what="/health to answer 503 while the worker is gone",
        )
        assert body["broker"] is True and body["worker"] is False and body["worker_gone_s"] >= 3
        back = deployment.healthy(timeout=120)
        assert back["status"] == "ok" and back["worker_gone_s"] is None
        now = deployment.pids()
        assert now["intake-worker"] != first["intake-worker"] and running(now["intake-worker"])
        assert {k: v for k, v in now.items() if k != "intake-worker"} == {
            k: v for k, v in first.items() if k != "intake-worker"
        }
        journal = deployment.journal()
        assert journal.count("exited with") == 1
        assert "intake-worker exited with code -9 (SIGKILL) after" in journal
        assert f"restarting it in {RESTART_DELAY_S}s" in journal
        assert f"intake-worker restarted (pid {now['intake-worker']})" in journal

        began = time.monotonic()
        up.send_signal(signal.SIGINT)
        assert up.wait(timeout=STOP_BOUND_S + 10) == 0
        took = time.monotonic() - began
        assert took < STOP_BOUND_S, f"Ctrl-C took {took:.1f}s"
        assert [part for part, pid in now.items() if running(pid)] == []
        assert deployment.pids() == {}
        assert "stopped 3 parts in" in deployment.journal()
    finally:
        if up.poll() is None:
            up.kill()
            up.wait(timeout=10)
        deployment.stop_all()


def test_a_start_after_a_killed_supervisor_clears_what_it_left(tmp_path: Path) -> None:
    deployment = Deployment(tmp_path)
    try:
        started = deployment.cli(*UP)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "stop with: make down" in started.stdout
        deployment.healthy(timeout=30)
        first = deployment.pids()
        assert sorted(first) == ["broker", "intake-api", "intake-worker", "supervisor"]
        os.kill(first["supervisor"], signal.SIGKILL)
        eventually(lambda: not running(first["supervisor"]), timeout=10, what="the kill")
        left = sorted(part for part, pid in first.items() if running(pid))
        assert left == ["broker", "intake-api", "intake-worker"]

        again = deployment.cli(*UP)
        assert again.returncode == 0, again.stdout + again.stderr
        assert stopped(again.stdout) == {"broker", "intake-api", "intake-worker"}
        assert [part for part, pid in first.items() if running(pid)] == []
        deployment.healthy(timeout=30)
        second = deployment.pids()
        assert sorted(second) == sorted(first) and not set(second.values()) & set(first.values())

        began = time.monotonic()
        down = deployment.cli("down", timeout=STOP_BOUND_S + 30)
        took = time.monotonic() - began
        assert down.returncode == 0, down.stdout + down.stderr
        assert took < STOP_BOUND_S + 10, f"make down took {took:.1f}s"
        assert stopped(down.stdout) == {"supervisor", "broker", "intake-api", "intake-worker"}
        assert [part for part, pid in second.items() if running(pid)] == []
        assert deployment.pids() == {}
    finally:
        deployment.stop_all()
