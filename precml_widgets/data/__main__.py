"""Command line: ``python -m precml_widgets.data {list,fetch} ...``."""

from __future__ import annotations

import argparse
import os
import sys

from precml_widgets.data.fetch import fetch_many, missing_files
from precml_widgets.data.locate import DATA_ENV_VAR, damaged, data_dir, find
from precml_widgets.data.registry import FETCH_COMMAND, KNOWN_FILES


def folder_line() -> str:
    """``data folder: X (...)``: the folder, where the setting comes from, whether it exists."""
    folder = data_dir()
    how = f"set by {DATA_ENV_VAR}" if os.environ.get(DATA_ENV_VAR) else "the default"
    if folder.is_dir():
        return f"data folder: {folder} ({how}; set {DATA_ENV_VAR} to use another)"
    return (
        f"data folder: {folder} ({how}; does not exist: set {DATA_ENV_VAR} to a folder of data "
        f"files, or run: {FETCH_COMMAND} --missing)"
    )


def list_files() -> str:
    """The report of ``list``: each known file, where it was found, or the command to fetch it
    (also for a data-folder copy of the wrong size, flagged ``DAMAGED``)."""
    lines = [folder_line()]
    width = max(map(len, KNOWN_FILES))
    missing = []
    for name, entry in KNOWN_FILES.items():
        found, broken = find(name), damaged(name)
        kind = "real" if entry.real else "sim "
        if broken is not None:
            missing.append(entry)
            where = f"DAMAGED: {broken} -> {entry.fetch_command}"
            if found is not None:
                where += f" (meanwhile the {found.origin} copy is used: {found.path})"
        elif found is None:
            missing.append(entry)
            where = f"MISSING -> {entry.fetch_command}"
        else:
            where = f"{found.origin}: {found.path}"
        lines.append(f"{name:{width}s} {kind} {where}")
    if missing:
        size = sum(e.size for e in missing) / 1e6
        lines.append(
            f"{len(missing)} of {len(KNOWN_FILES)} files missing or damaged ({size:.1f} MB); "
            f"fetch them all with: {FETCH_COMMAND} --missing"
        )
    else:
        lines.append(f"all {len(KNOWN_FILES)} files found")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """List known data files or fetch them explicitly (with checksums); 1 if a fetch failed."""
    parser = argparse.ArgumentParser(prog="python -m precml_widgets.data")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="show known files and where each was found")
    get = sub.add_parser("fetch", help="download files from their publishers, verifying SHA-256")
    get.add_argument("names", nargs="*", help="registry names (see 'list')")
    get.add_argument("--missing", action="store_true", help="fetch every file not found locally")
    get.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    if args.command == "list":
        print(list_files())
        return 0
    names = list(dict.fromkeys([*args.names, *(missing_files() if args.missing else [])]))
    if not names:
        print("nothing to fetch: every known file is found (see 'list')")
        return 0
    unknown = [n for n in names if n not in KNOWN_FILES]
    if unknown:
        parser.error(f"unknown data file {', '.join(unknown)}; known: {', '.join(KNOWN_FILES)}")
    print(f"fetching {len(names)} file(s) into {data_dir()}", file=sys.stderr)
    results = fetch_many(names, progress=not args.no_progress)
    for r in results:
        if r.status == "failed":
            print(f"{r.name}: FAILED: {r.error}", file=sys.stderr)
        else:
            print(f"{r.name}: {r.status} {r.path}")
    failed = [r.name for r in results if r.status == "failed"]
    done = len(results) - len(failed)
    print(
        f"{done} of {len(results)} file(s) ready"
        + (f"; FAILED: {', '.join(failed)} (see the messages above)" if failed else ""),
        file=sys.stderr if failed else sys.stdout,
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
