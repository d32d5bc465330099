"""A deployment's ports are picked where no other socket on the machine is handed one."""

from __future__ import annotations

import socket
from pathlib import Path

from services.cli import deployment


def test_the_range_handed_out_is_read_from_the_system_and_has_a_default(tmp_path: Path) -> None:
    given = tmp_path / "range"
    given.write_text("40000\t60999\n")
    assert deployment._handed_out_from(given) == 40_000
    assert deployment._handed_out_from(tmp_path / "missing") == 32_768
    given.write_text("")
    assert deployment._handed_out_from(given) == 32_768


def test_ports_picked_are_distinct_free_and_below_the_range_handed_out() -> None:
    below = deployment._handed_out_from()
    ports = [deployment.free_port() for _ in range(20)]
    assert len(set(ports)) == len(ports)
    assert all(deployment.PICKED_FROM <= p < below for p in ports)
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))
