"""Command line: ``python -m precml_widgets.data {list,fetch} ...``."""

from __future__ import annotations

import argparse
import sys

from precml_widgets.data.fetch import fetch, missing_files
from precml_widgets.data.locate import data_dir, locate
from precml_widgets.data.registry import KNOWN_FILES
from precml_widgets.errors import PrecmlError


def main(argv: list[str] | None = None) -> int:
    """List known data files or fetch them explicitly (with checksums)."""
    parser = argparse.ArgumentParser(prog="python -m precml_widgets.data")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="show known files and where each was found")
    get = sub.add_parser("fetch", help="download files from their publishers, verifying SHA-256")
    get.add_argument("names", nargs="*", help="registry names (see 'list')")
    get.add_argument("--missing", action="store_true", help="fetch every file not found locally")
    args = parser.parse_args(argv)
    if args.command == "list":
        print(f"data folder: {data_dir()}")
        for name, entry in KNOWN_FILES.items():
            try:
                where = str(locate(name))
            except PrecmlError:
                where = "MISSING"
            print(f"{name:22s} {'real' if entry.real else 'sim ':4s} {where}")
        return 0
    names = list(args.names) + (missing_files() if args.missing else [])
    if not names:
        print("nothing to fetch")
        return 0
    status = 0
    for name in names:
        try:
            print(f"{name}: {fetch(name)}")
        except PrecmlError as exc:
            print(f"{name}: FAILED: {exc}", file=sys.stderr)
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
