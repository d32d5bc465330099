"""A worker's sign of life: fresh while its loop turns, stale or missing when it does not."""

from __future__ import annotations

import os
import time
from pathlib import Path

from services.common.heartbeat import STALE_S, Heartbeat, age_s, alive, attach, heartbeat_file, main


def test_a_file_is_alive_up_to_its_bound_and_not_after(tmp_path: Path) -> None:
    beat = Heartbeat(heartbeat_file(tmp_path, "intake"))
    assert beat.path == tmp_path / "run" / "intake-worker.alive"
    assert age_s(beat.path) is None and not alive(beat.path)
    beat.beat()
    touched = beat.path.stat().st_mtime
    assert alive(beat.path, 30, now=touched + 30)
    assert not alive(beat.path, 30, now=touched + 30.5)
    assert alive(beat.path, now=touched + STALE_S) and not alive(
        beat.path, now=touched + STALE_S + 1
    )


def test_a_file_left_by_an_earlier_worker_says_nothing_of_this_one(tmp_path: Path) -> None:
    path = heartbeat_file(tmp_path, "audit")
    Heartbeat(path).beat()
    assert alive(path)
    Heartbeat(path)
    assert not path.exists()


def test_the_probe_exits_by_the_age_of_the_file(tmp_path: Path) -> None:
    beat = Heartbeat(tmp_path / "worker.alive")
    assert main([str(beat.path), "60"]) == 1
    beat.beat()
    assert main([str(beat.path), "60"]) == 0 and main([str(beat.path)]) == 0
    old = time.time() - 61
    os.utime(beat.path, (old, old))
    assert main([str(beat.path), "60"]) == 1
    assert main([]) == 2


class Polling:
    """A worker that polls, offering the heartbeat it beats each round."""

    heartbeat: Heartbeat | None = None


def test_only_a_worker_with_a_loop_is_given_a_heartbeat(tmp_path: Path) -> None:
    beat = Heartbeat(tmp_path / "worker.alive")
    polling = Polling()
    assert attach(polling, beat) and polling.heartbeat is beat
    assert not attach(object(), beat)
