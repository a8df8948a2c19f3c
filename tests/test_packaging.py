"""The project's install routes stay in step: pyproject.toml, environment.yml (conda and Binder),
ci/constraints.txt (CI pins) and .ci/run (the README's test command)."""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]

# conda-forge package name -> PyPI distribution name, where they differ.
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "matplotlib-base": "matplotlib",
}
# Entries of environment.yml that are not runtime dependencies of the package.
NOT_DEPENDENCIES = {"python", "pip"}
# Extras that are tooling, not runtime features: not part of environment.yml.
TOOLING_EXTRAS = {"test", "docs"}


def normalise(name: str) -> str:
    """PEP 503 normalisation: lower case, runs of ``-``, ``_`` and ``.`` become one ``-``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict:
    with (ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def resolve_extras(project: dict, extras: list[str]) -> set[str]:
    """Names required by ``extras``, following ``precml-widgets[...]`` self-references."""
    self_name = normalise(project["name"])
    optional = project.get("optional-dependencies", {})
    names: set[str] = set()
    seen: set[str] = set()
    todo = list(extras)
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        assert extra in optional, f"pyproject.toml refers to an undefined extra [{extra}]"
        for spec in optional[extra]:
            req = Requirement(spec)
            if normalise(req.name) == self_name:
                todo.extend(sorted(req.extras))
            else:
                names.add(normalise(req.name))
    return names


def pyproject_runtime_names() -> set[str]:
    project = pyproject()["project"]
    names = {normalise(Requirement(spec).name) for spec in project["dependencies"]}
    return names | resolve_extras(project, ["all"])


def conda_name(spec: str) -> str:
    """``conda-forge::numpy>=1.26`` -> ``numpy``."""
    spec = spec.split("::")[-1].strip()
    return re.split(r"[\s=<>!~\[;#]", spec, maxsplit=1)[0]


def environment_names(path: Path) -> set[str]:
    env = yaml.safe_load(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            for line in dep.get("pip", []):
                line = line.strip()
                if line.startswith("-"):  # -e ., -r file, --index-url ...: not a package name
                    continue
                names.add(normalise(Requirement(line).name))
        else:
            name = normalise(conda_name(str(dep)))
            if name not in NOT_DEPENDENCIES:
                names.add(CONDA_TO_PYPI.get(name, name))
    return names


def test_environment_yml_matches_pyproject():
    expected = pyproject_runtime_names()
    actual = environment_names(ROOT / "environment.yml")
    missing = sorted(expected - actual)
    extra = sorted(actual - expected)
    assert not missing and not extra, (
        "environment.yml and pyproject.toml (dependencies + the extras behind [all]) disagree.\n"
        f"  only in pyproject.toml: {missing}\n  only in environment.yml: {extra}\n"
        "Add the conda-forge name (or a pip: entry) to environment.yml, copy it to "
        "binder/environment.yml, and extend CONDA_TO_PYPI here if the conda name differs."
    )


def test_environment_yml_installs_the_package_and_pins_testdata():
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    assert env["name"] == "precml"
    assert env["channels"] == ["conda-forge"]
    plain = [str(d).replace(" ", "") for d in env["dependencies"] if not isinstance(d, dict)]
    assert "python=3.11" in plain
    # Versions >= 0.4 ship no data files; the data layer falls back on the 0.3.12 package.
    assert "scikit-hep-testdata=0.3.12" in plain
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    assert "-e ." in pip


def test_binder_environment_is_an_exact_copy():
    root_env = (ROOT / "environment.yml").read_bytes()
    binder_env = (ROOT / "binder" / "environment.yml").read_bytes()
    assert binder_env == root_env, (
        "binder/environment.yml differs from environment.yml (repo2docker reads only binder/ "
        "when it exists): cp environment.yml binder/environment.yml"
    )


def test_binder_postbuild_is_executable():
    post_build = ROOT / "binder" / "postBuild"
    assert os.access(post_build, os.X_OK), "binder/postBuild must be executable (chmod +x)"
    assert "pip install --no-cache-dir --no-deps -e ." in post_build.read_text(encoding="utf-8")


def readme_test_command() -> str:
    readme = ROOT / "README.md"
    if not readme.is_file():
        pytest.fail(
            "README.md is missing: it must show the test command in a fenced code block, "
            "on a line starting with `make test` (the command .ci/run runs)."
        )
    in_fence = False
    for raw in readme.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if in_fence:
            line = line.removeprefix("$ ").strip()
            if line.startswith("make test"):
                return " ".join(shlex.split(line, comments=True))
    pytest.fail(
        "README.md has no fenced code line starting with `make test`; "
        "it must show the command that .ci/run runs."
    )


def ci_commands() -> list[str]:
    commands = []
    for raw in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"\s*<\s*/dev/null\s*$", "", line)  # stdin closed for CI: same command
        try:
            commands.append(" ".join(shlex.split(line, comments=True)))
        except ValueError:  # a shell construct shlex cannot split: not a plain command line
            continue
    return commands


def test_ci_runs_the_readme_test_command():
    command = readme_test_command()
    assert command in ci_commands(), (
        f".ci/run does not run the README's test command {command!r}; keep the two identical."
    )


def test_ci_script_is_strict_bash():
    text = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "set -euo pipefail" in text


def constraint_lines() -> list[str]:
    lines = (ROOT / "ci" / "constraints.txt").read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def test_constraints_pin_cpu_torch_first():
    lines = constraint_lines()
    # Any other torch specifier makes pip fetch a multi-GB CUDA build instead of the CPU wheel.
    assert lines[0] == "torch==2.13.0"
    assert [line for line in lines if normalise(line.split("==")[0]) == "torch"] == [lines[0]]


def test_constraints_are_exact_pins_of_every_direct_dependency():
    lines = constraint_lines()
    bad = [line for line in lines if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*==\S+", line)]
    assert not bad, f"ci/constraints.txt must hold only exact name==version pins: {bad}"
    pinned = {normalise(line.split("==")[0]) for line in lines}
    project = pyproject()["project"]
    direct = {normalise(Requirement(spec).name) for spec in project["dependencies"]}
    direct |= resolve_extras(project, ["all", *sorted(TOOLING_EXTRAS)])
    missing = sorted(direct - pinned)
    assert not missing, f"ci/constraints.txt has no pin for direct dependencies: {missing}"
