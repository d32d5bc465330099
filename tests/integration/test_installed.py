"""The project installed as a wheel runs from its settings alone, away from the source tree."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services.cli import processes
from services.cli.deployment import Deployment, free_port, halt
from services.common.settings import ROOT
from tests.integration.conftest import SECRET

pytestmark = pytest.mark.one_store

SOURCES = ("pyproject.toml", "README.md", "contracts", "services")
CONFIG = ("units.yaml", "demo-users.yaml")


def run(*args: str | Path, cwd: Path) -> str:
    """Run a build step; fail with what it said if it fails."""
    done = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A fresh environment with the project's wheel installed in it (not the source tree)."""
    home = tmp_path_factory.mktemp("installed")
    source = home / "source"
    source.mkdir()
    for name in SOURCES:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        copy(ROOT / name, source / name)
    pip = (sys.executable, "-m", "pip")
    build = ("wheel", "-q", "--no-deps", "--no-build-isolation", "-w", "dist", "./source")
    run(*pip, *build, cwd=home)
    (wheel,) = (home / "dist").glob("taizhang-*.whl")
    run(sys.executable, "-m", "venv", "--without-pip", "venv", cwd=home)
    python = home / "venv" / "bin" / "python"
    run(*pip, "--python", python, "install", "-q", "--no-deps", wheel, cwd=home)
    # The libraries it needs come from this environment, read after the wheel's own packages;
    # this environment's link to the source tree is a .pth of its own and is not followed.
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=home)
    (Path(site.strip()) / "libraries.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    yield home
    shutil.rmtree(home, ignore_errors=True)


def test_the_installed_package_is_not_the_source_tree(installed: Path) -> None:
    python = installed / "venv" / "bin" / "python"
    found = run(python, "-c", "import services, contracts; print(services.__file__)", cwd=installed)
    assert Path(found.strip()).is_relative_to(installed / "venv")


def test_a_service_started_from_the_wheel_finds_its_files_by_their_settings(
    installed: Path, bootstrap: str
) -> None:
    config = installed / "etc"
    config.mkdir()
    for name in CONFIG:
        shutil.copy(ROOT / "deploy" / name, config / name)
    deployment = Deployment(bootstrap, installed / "var", label="wheel", secret=SECRET)
    taizhang = str(installed / "venv" / "bin" / "taizhang")
    port = free_port()
    env = {**os.environ, **deployment.env, "TAIZHANG_WORKER_GRACE_S": "600"}
    env.pop("PYTHONPATH", None)
    serve = [taizhang, "serve", "intake", "--part", "api", "--port", str(port)]

    refused = subprocess.run(
        serve, env=env, cwd=installed, capture_output=True, text=True, timeout=120, check=False
    )
    assert refused.returncode == 2
    assert "TAIZHANG_UNITS_FILE names" in refused.stderr
    assert "site-packages/deploy/units.yaml" in refused.stderr

    env["TAIZHANG_UNITS_FILE"] = str(config / "units.yaml")
    # The portal shows the demo users of its file (development only) on pages from the wheel.
    portal_port = free_port()
    portal_env = {
        **env,
        "TAIZHANG_ENVIRONMENT": "development",
        "TAIZHANG_DEMO_SIGN_IN": "1",
        "TAIZHANG_DEMO_USERS_FILE": str(config / "demo-users.yaml"),
        "TAIZHANG_INTAKE_URL": f"http://127.0.0.1:{port}",
    }
    portal = [taizhang, "serve", "portal", "--port", str(portal_port)]
    with (installed / "parts.log").open("wb") as log:
        parts = [
            subprocess.Popen(serve, env=env, cwd=installed, stdout=log, stderr=log),
            subprocess.Popen(portal, env=portal_env, cwd=installed, stdout=log, stderr=log),
        ]
    try:
        processes.wait_healthy(f"http://127.0.0.1:{port}", 90, parts[0])
        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10).json()
        assert health["status"] == "ok"
        assert health["broker"] is True
        processes.wait_healthy(f"http://127.0.0.1:{portal_port}", 90, parts[1])
        signin = httpx.get(f"http://127.0.0.1:{portal_port}/signin", timeout=10)
        assert signin.status_code == 200
        assert "rep-p01" in signin.text
    finally:
        halt(parts)
