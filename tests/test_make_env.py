"""The Makefile's environment: one .venv reused by every target; chromium without upgrades.

``make -n`` (print, do not run) in a copy of the Makefile shows which commands a target would
run. ``.ci/install-chromium`` runs against a fake ``apt-get`` that prints a canned simulation
and records every call, so nothing is installed here.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from ci_strict import require_tool

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / ".ci" / "install-chromium"
TARGETS = ["lab", "gallery", "test", "test-teaching", "validate", "docs", "bench", "lint"]
TARGETS += ["sync-notebooks", "normalise-notebooks"]


@pytest.fixture(autouse=True)
def _make() -> None:
    """GNU make, or a skip (locally) / a failure (under CI=true: tests/ci_strict.py)."""
    require_tool("make", "install GNU make (`sudo apt-get install make`)")


def _copy_project(tmp_path: Path) -> Path:
    for name in ("Makefile", "pyproject.toml", "ci/constraints.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, tmp_path / name)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text("#!/bin/sh\nexit 0\n")
    python.chmod(0o755)
    return tmp_path


def _dry_run(project: Path, target: str) -> str:
    done = subprocess.run(
        ["make", "-n", target], cwd=project, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_every_target_reuses_the_one_environment(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    assert "pip install" in _dry_run(project, "lab"), "without the stamp, pip must run"
    # what `make test` leaves behind: the stamp of the one environment, newer than its inputs
    stamps = {p.name for p in project.glob(".venv/.stamp-*")}
    assert not stamps
    (project / ".venv" / ".stamp-all,test,docs").touch()
    for target in TARGETS:
        commands = _dry_run(project, target)
        assert "pip" not in commands, f"`make {target}` after `make test` re-runs pip:\n{commands}"


def test_a_changed_pyproject_reinstalls(tmp_path: Path) -> None:
    project = _copy_project(tmp_path)
    stamp = project / ".venv" / ".stamp-all,test,docs"
    stamp.touch()
    (project / "pyproject.toml").touch()  # edited after the install
    old = (project / "pyproject.toml").stat().st_mtime - 10
    os.utime(stamp, (old, old))
    assert "pip install" in _dry_run(project, "lab")


def test_make_chromium_uses_the_no_upgrade_installer(tmp_path: Path) -> None:
    commands = _dry_run(_copy_project(tmp_path), "chromium")
    assert ".ci/install-chromium" in commands
    recipes = [
        line for line in (REPO / "Makefile").read_text(encoding="utf-8").splitlines()
        if line.startswith("\t")
    ]  # fmt: skip
    assert not [line for line in recipes if "apt-get" in line], "apt-get only via the script"


# --- .ci/install-chromium against a fake apt-get ------------------------------------------------

PLAN_CLEAN = """Reading package lists...
Building dependency tree...
The following NEW packages will be installed:
  chromium chromium-common
Inst chromium-common (120.0-1~deb12u1 Debian-Security:12/stable-security [amd64])
Inst chromium (120.0-1~deb12u1 Debian-Security:12/stable-security [amd64])
Conf chromium-common (120.0-1~deb12u1 Debian-Security:12/stable-security [amd64])
Conf chromium (120.0-1~deb12u1 Debian-Security:12/stable-security [amd64])
"""
PLAN_UPGRADES = """Reading package lists...
The following packages will be upgraded:
  libc6
Inst libc6 [2.36-9+deb12u3] (2.36-9+deb12u9 Debian:12.9/stable [amd64])
Inst chromium (120.0-1~deb12u1 Debian-Security:12/stable-security [amd64])
Remv libold1 [1.0-1]
"""


def _fake_system(tmp_path: Path, plan: str, uid: int = 0) -> tuple[Path, Path]:
    """A PATH with a fake apt-get (prints ``plan`` for ``-s``, logs every call) and id."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "apt-calls.log"
    (tmp_path / "plan.txt").write_text(plan)
    scripts = {
        "apt-get": f'#!/bin/bash\necho "$*" >> "{calls}"\n'
        f'case " $* " in *" -s "*) cat "{tmp_path / "plan.txt"}";; esac\n',
        "id": f"#!/bin/bash\necho {uid}\n",
    }
    for name, text in scripts.items():
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(stat.S_IRWXU)
    for tool in ("sed", "env", "cat"):
        os.symlink(shutil.which(tool), bin_dir / tool)  # no chromium on this PATH
    return bin_dir, calls


def _install(bin_dir: Path, ci: str = "") -> subprocess.CompletedProcess[str]:
    env = {"PATH": str(bin_dir), "CI": ci, "HOME": str(bin_dir)}
    bash = shutil.which("bash")
    return subprocess.run([bash, str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)


def test_chromium_is_installed_without_recommends_or_upgrades(tmp_path: Path) -> None:
    bin_dir, calls = _fake_system(tmp_path, PLAN_CLEAN)
    done = _install(bin_dir)
    assert done.returncode == 0, done.stderr
    log = calls.read_text().splitlines()
    assert log[0] == "update -qq"
    assert log[1].startswith("-s ") and "install chromium" in log[1]
    (install,) = [line for line in log[2:] if "install" in line]
    assert "--no-install-recommends" in install and "--no-upgrade" in install
    assert not any("upgrade" in line.split()[:1] or "dist-upgrade" in line for line in log)


@pytest.mark.parametrize(("ci", "code"), [("", 0), ("true", 1)])
def test_an_install_that_would_upgrade_is_refused(tmp_path: Path, ci: str, code: int) -> None:
    bin_dir, calls = _fake_system(tmp_path, PLAN_UPGRADES)
    done = _install(bin_dir, ci)
    assert done.returncode == code
    assert "refusing to install chromium" in done.stderr
    assert "upgrade libc6 (installed: 2.36-9+deb12u3)" in done.stderr
    assert "remove  libold1" in done.stderr
    assert "--no-install-recommends chromium" in done.stderr  # the command to do it by hand
    log = calls.read_text().splitlines()
    assert not [line for line in log if line.startswith("install") or " -y " in f" {line} "]


def test_nothing_runs_without_root_or_sudo(tmp_path: Path) -> None:
    bin_dir, calls = _fake_system(tmp_path, PLAN_CLEAN, uid=1000)
    done = _install(bin_dir)
    assert done.returncode == 0
    assert "sudo apt-get install --no-install-recommends chromium" in done.stderr
    assert not calls.exists()


HELPER_USE = """
from ci_strict import require_chromium, require_module, require_tool


def test_tool():
    require_tool("surely-no-such-program", "install it")


def test_module():
    require_module("surely_no_such_module", "pip install it")


def test_browser(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no chromium here
    require_chromium()
"""


@pytest.mark.parametrize("ci", ["true", "1", "YES", "false", ""])
def test_a_missing_make_browser_or_module_fails_under_ci_even_without_the_plugin(
    pytester, monkeypatch, ci
):
    """The one helper (tests/ci_strict.py) every browser and make test uses: every spelling of
    CI=true turns a missing component into a failure, also where the plugin is not loaded."""
    monkeypatch.setenv("CI", ci)
    pytester.makepyfile(test_inner=HELPER_USE)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider")
    if ci in ("false", ""):
        result.assert_outcomes(skipped=3)
        return
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines(
        [
            "*surely-no-such-program not found on PATH; install it (CI=true: a missing "
            "component fails, never skips)*",
            "*surely_no_such_module cannot be imported*pip install it*",
            "*chromium not found on PATH; Debian chromium: install it with `sudo apt-get "
            "install --no-install-recommends chromium`*",
        ],
        consecutive=False,
    )
