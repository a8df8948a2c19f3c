"""The house rules of ``precml_widgets``, checked on its source (docs/architecture.md).

* the import-linter contracts of ``pyproject.toml`` (layers, views above cores, no Panel in a
  core, topics independent, no cycles between siblings) hold: ``lint-imports`` passes;
* every module named like a view is covered by the "views above cores" contract;
* no private name crosses a module boundary (``from x import _y``, ``m._y`` on an imported
  module); private *modules* such as ``precml_widgets._io`` are fine, dunders too;
* only ``precml_widgets/_io.py`` puts files on disk by hand (``os.replace``,
  ``tempfile.mkstemp``, ``NamedTemporaryFile``);
* only ``precml_widgets/_checks.py`` validates scalars by hand (``isinstance(x, bool)``, the
  signature of a hand-written "an int but not a bool" check);
* no topic core loads Panel or HoloViews at run time (``require("panel", ...)``);
* no module is over 500 lines, no view (a Panel class: ``*explorer*.py``, ``*_view.py``) over 350.

Each failure lists the offending ``file:line`` entries, so the fix starts at the right place.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "precml_widgets"

MAX_MODULE_LINES = 500
MAX_VIEW_LINES = 350
#: The one module that writes files by hand, and the one that checks scalars by hand.
IO_MODULE = PACKAGE / "_io.py"
CHECKS_MODULE = PACKAGE / "_checks.py"
#: Calls that put a file on disk by hand: ``(module, attribute)``.
RAW_WRITES = {("os", "replace"), ("tempfile", "mkstemp"), ("tempfile", "NamedTemporaryFile")}
#: Drawing and dashboard libraries a topic core must not load, not even lazily.
VIEW_LIBRARIES = ("panel", "holoviews")


def module_name(path: Path) -> str:
    """``precml_widgets/fpga/scan.py`` -> ``precml_widgets.fpga.scan`` (a package: its name)."""
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def source_files() -> tuple[Path, ...]:
    """Every ``.py`` file of the package (its tests and data folders hold none)."""
    return tuple(sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts))


@cache
def parsed(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def where(path: Path, node: ast.AST | None = None) -> str:
    """``precml_widgets/x.py:12`` for messages."""
    line = getattr(node, "lineno", 1) if node is not None else 1
    return f"{path.relative_to(ROOT).as_posix()}:{line}"


def is_view(path: Path) -> bool:
    """A view module by name: a Panel class lives in ``*explorer*.py`` or ``*_view.py``."""
    return "explorer" in path.stem or path.stem.endswith("_view")


def is_drawing_module(path: Path) -> bool:
    """Views, the pure-HoloViews ``plots.py`` modules and the apps: they may load Panel."""
    return is_view(path) or path.stem == "plots" or "apps" in path.relative_to(PACKAGE).parts


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def resolve(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module name an ``ImportFrom`` in ``path`` imports from."""
    if not node.level:
        return node.module or ""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def is_internal_module(name: str) -> bool:
    """Whether ``name`` (dotted) is a module or package of ``precml_widgets``."""
    if name != "precml_widgets" and not name.startswith("precml_widgets."):
        return False
    relative = Path(*name.split("."))
    return (ROOT / relative).with_suffix(".py").is_file() or (
        ROOT / relative / "__init__.py"
    ).is_file()


def walk(tree: ast.AST) -> Iterator[ast.AST]:
    yield from ast.walk(tree)


# --- import-linter -----------------------------------------------------------------------------


def test_import_contracts_hold():
    """``lint-imports`` (pyproject.toml's ``[tool.importlinter]``) reports every contract kept."""
    executable = Path(sys.executable).with_name("lint-imports")
    if not executable.is_file():
        pytest.skip(
            "import-linter is not installed; pip install -c ci/constraints.txt -e '.[test]'"
        )
    result = subprocess.run(
        [str(executable), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    report = result.stdout[-12000:] + result.stderr[-4000:]
    assert result.returncode == 0, (
        "import-linter found a broken contract (see docs/architecture.md for the layers and "
        f"how to fix an upward import):\n{report}"
    )


def importlinter_contract(contract_id: str) -> dict:
    with (ROOT / "pyproject.toml").open("rb") as f:
        contracts = tomllib.load(f)["tool"]["importlinter"]["contracts"]
    return next(c for c in contracts if c.get("id") == contract_id)


def expression_regex(expression: str) -> re.Pattern[str]:
    """import-linter's module expression (``*``: one segment, ``**``: any) as a regex."""
    parts = []
    for part in expression.split("."):
        parts.append({"*": r"[^.]+", "**": r".+"}.get(part, re.escape(part)))
    return re.compile(r"\.".join(parts) + r"$")


def test_every_view_is_declared_in_the_views_contract():
    """A module named like a view must be one of the contract's forbidden-to-cores modules."""
    contract = importlinter_contract("views-above-cores")
    patterns = [expression_regex(e) for e in contract["forbidden_modules"]]
    missing = [
        f"{where(path)} ({module_name(path)})"
        for path in source_files()
        if is_drawing_module(path)
        and "apps" not in path.relative_to(PACKAGE).parts
        and not any(p.match(module_name(path)) for p in patterns)
    ]
    assert not missing, (
        "view modules missing from the 'views-above-cores' contract's forbidden_modules in "
        "pyproject.toml (add them there, and to the ignore_imports of 'cores-without-panel'):\n  "
        + "\n  ".join(missing)
    )


# --- AST rules ---------------------------------------------------------------------------------


def private_imports(path: Path, tree: ast.Module | None = None) -> Iterator[str]:
    """``file:line`` entries where ``path`` reaches a private name of another of our modules."""
    tree = tree or parsed(path)
    own = module_name(path)
    module_aliases: dict[str, str] = {}  # local name -> internal module it is bound to
    for node in walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = resolve(path, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if is_internal_module(submodule):
                    module_aliases[alias.asname or alias.name] = submodule
                    continue  # a (possibly private) module, not a private name in one
                if is_private(alias.name) and source != own and is_internal_module(source):
                    yield f"{where(path, node)}: from {source} import {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    module_aliases[alias.asname] = alias.name
                else:
                    top = alias.name.split(".")[0]
                    module_aliases.setdefault(top, top)
    for node in walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and is_private(node.attr)
            and isinstance(node.value, ast.Name)
            and node.value.id in module_aliases
            and module_aliases[node.value.id] != own
            and is_internal_module(module_aliases[node.value.id])
        ):
            target = module_aliases[node.value.id]
            if is_internal_module(f"{target}.{node.attr}"):
                continue  # a private submodule reached as an attribute
            yield f"{where(path, node)}: {node.value.id}.{node.attr} ({target})"


def raw_writes(path: Path, tree: ast.Module | None = None) -> Iterator[str]:
    for node in walk(tree or parsed(path)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in RAW_WRITES
        ):
            yield f"{where(path, node)}: {node.value.id}.{node.attr}"
        elif isinstance(node, ast.ImportFrom) and node.module in {"os", "tempfile"}:
            for alias in node.names:
                if (node.module, alias.name) in RAW_WRITES:
                    yield f"{where(path, node)}: from {node.module} import {alias.name}"


def names_bool(node: ast.expr) -> bool:
    """Whether an ``isinstance`` class argument is ``bool`` or a tuple holding ``bool``."""
    if isinstance(node, ast.Name):
        return node.id == "bool"
    if isinstance(node, ast.Tuple):
        return any(names_bool(element) for element in node.elts)
    return False


def bool_checks(path: Path, tree: ast.Module | None = None) -> Iterator[str]:
    for node in walk(tree or parsed(path)):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "isinstance"
            and len(node.args) == 2
            and names_bool(node.args[1])
        ):
            yield f"{where(path, node)}: {ast.unparse(node)}"


def lazy_view_imports(path: Path, tree: ast.Module | None = None) -> Iterator[str]:
    """Run-time loads of Panel/HoloViews: ``require("panel")``, ``import_module("panel")``."""
    for node in walk(tree or parsed(path)):
        if not (isinstance(node, ast.Call) and node.args):
            continue
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
        first = node.args[0]
        if (
            name in {"require", "import_module", "__import__"}
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and first.value.split(".")[0] in VIEW_LIBRARIES
        ):
            yield f"{where(path, node)}: {ast.unparse(node)}"


def offenders(rule, skip: Path | None = None) -> list[str]:
    return [entry for path in source_files() if path != skip for entry in rule(path)]


def test_no_private_name_crosses_a_module():
    found = offenders(private_imports)
    assert not found, (
        "private names used outside their module; make the shared piece public (no "
        "underscore, a docstring) and move it down the layers:\n  " + "\n  ".join(found)
    )


def test_only_io_module_writes_files_by_hand():
    found = offenders(raw_writes, skip=IO_MODULE)
    assert not found, (
        "hand-written atomic writes; use precml_widgets._io (atomic_path, atomic_open, "
        "write_bytes, write_text, write_json):\n  " + "\n  ".join(found)
    )


def test_only_checks_module_validates_scalars_by_hand():
    found = offenders(bool_checks, skip=CHECKS_MODULE)
    assert not found, (
        "hand-written scalar checks (isinstance(x, bool)); use precml_widgets._checks "
        "(require_int, require_real, require_probability, require_choice, require_instance):\n  "
        + "\n  ".join(found)
    )


def test_cores_do_not_load_panel_at_run_time():
    found = [
        entry
        for path in source_files()
        if not is_drawing_module(path)
        for entry in lazy_view_imports(path)
    ]
    assert not found, (
        "a topic core loads Panel or HoloViews; move the drawing to the topic's plots.py and "
        "the widgets to its view:\n  " + "\n  ".join(found)
    )


def test_modules_are_small():
    found = []
    for path in source_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        limit = MAX_VIEW_LINES if is_view(path) else MAX_MODULE_LINES
        if lines > limit:
            kind = "view" if is_view(path) else "module"
            found.append(f"{where(path)}: {lines} lines (a {kind} holds at most {limit})")
    assert not found, (
        "modules over the size limit; split them by concept (one concept per module):\n  "
        + "\n  ".join(found)
    )


# --- the checks check what they claim ------------------------------------------------------------


def scan(text: str, rule) -> list[str]:
    """Run ``rule`` on ``text`` as if it were a module ``precml_widgets/fpga/probe.py``."""
    return list(rule(PACKAGE / "fpga" / "probe.py", ast.parse(text)))


@pytest.mark.parametrize(
    ("text", "rule", "expected"),
    [
        ("from precml_widgets.fpga.layers import _split_args\n", private_imports, 1),
        ("from .layers import _split_args\n", private_imports, 1),
        ("from precml_widgets._io import write_json\n", private_imports, 0),
        ("from precml_widgets import _io\n_io.write_json\n", private_imports, 0),
        ("import precml_widgets.fpga.layers as L\nL._split_args\n", private_imports, 1),
        ("from precml_widgets.fpga import layers\nlayers._split_args\n", private_imports, 1),
        ("from __future__ import annotations\nx.__dict__\n", private_imports, 0),
        ("import numpy as np\nnp._NoValue\n", private_imports, 0),
        ("import os\nos.replace('a', 'b')\n", raw_writes, 1),
        ("from tempfile import NamedTemporaryFile\n", raw_writes, 1),
        ("s.replace('a', 'b')\n", raw_writes, 0),
        ("isinstance(x, bool)\n", bool_checks, 1),
        ("isinstance(x, (bool, int))\n", bool_checks, 1),
        ("isinstance(x, int)\n", bool_checks, 0),
        ("pn = require('panel', 'widgets', 'the view')\n", lazy_view_imports, 1),
        ("hv = importlib.import_module('holoviews')\n", lazy_view_imports, 1),
        ("torch = require('torch', 'anomaly', 'training')\n", lazy_view_imports, 0),
    ],
)
def test_rules_find_what_they_look_for(text, rule, expected):
    found = scan(text, rule)
    assert len(found) == expected, found
