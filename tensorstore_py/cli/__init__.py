"""The ``tensorstore-py`` command (also ``python -m tensorstore_py``).

    tensorstore-py info SPEC_OR_URL [--json]
    tensorstore-py ls KVSTORE_URL [--recursive] [--json]
    tensorstore-py copy SRC DST [--chunk-layout JSON] [--codec JSON] [--overwrite] [--no-progress]
    tensorstore-py bench [--size-mib N] [--format zarr|zarr3|n5] [--dir DIR] [--json]

SPEC_OR_URL is a JSON spec (``'{"driver": "zarr", ...}'``), a file holding one (``@spec.json``),
a URL pipeline (``file:///data/a.zarr|zarr2:``), or a local path (opened with the ``auto``
driver, which recognises zarr, zarr3, n5 and neuroglancer_precomputed).

Exit status: 0 success, 1 the operation failed (missing array, unreadable data, unwritable
destination ...), 2 bad usage or an invalid spec, 130 interrupted.  Errors are one line on
stderr, ``tensorstore-py: error: ...``, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

__all__ = ["main", "build_parser", "CliError"]


class CliError(Exception):
    """A failure reported as one line on stderr with exit status `status`."""

    def __init__(self, message: str, status: int = 1):
        super().__init__(message)
        self.status = status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tensorstore-py",
        description="Inspect, list, copy and benchmark TensorStore arrays (tensorstore_py).",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser("info", help="describe an array: dtype, domain, chunking, codec, storage")
    p.add_argument("spec", metavar="SPEC_OR_URL")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--sizes", action="store_true",
                   help="size the values of remote stores by reading them (local files are stat'ed)")

    p = sub.add_parser("ls", help="list the keys of a key-value store with their sizes")
    p.add_argument("url", metavar="KVSTORE_URL")
    p.add_argument("-r", "--recursive", action="store_true", help="list every key below, not one level")
    p.add_argument("--json", action="store_true", help="print a JSON list")
    p.add_argument("--sizes", action="store_true",
                   help="size the values of remote stores by reading them (local files are stat'ed)")

    p = sub.add_parser("copy", help="copy an array into a new one (any drivers, re-chunked, re-encoded)")
    p.add_argument("src", metavar="SRC")
    p.add_argument("dst", metavar="DST", help="spec, URL pipeline (e.g. file:///b.zarr|zarr3:) or path")
    p.add_argument("--chunk-layout", metavar="JSON", help='destination chunk layout, e.g. \'{"chunk": {"shape": [64, 64]}}\'')
    p.add_argument("--codec", metavar="JSON", help="destination codec spec (JSON)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing destination array")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--progress", dest="progress", action="store_true", default=None,
                   help="always report progress (default: a bar on a terminal, lines otherwise)")
    g.add_argument("--no-progress", dest="progress", action="store_false", help="report no progress")
    p.add_argument("--stats", action="store_true", help="print the copy's I/O statistics as JSON at the end")

    p = sub.add_parser("bench", help="a short write/read throughput benchmark of this machine")
    p.add_argument("--size-mib", type=int, default=64, help="array size in MiB (default 64)")
    p.add_argument("--format", choices=["zarr", "zarr3", "n5"], default="zarr")
    p.add_argument("--dir", help="where to write (default: a temporary directory, removed afterwards)")
    p.add_argument("--json", action="store_true")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from . import commands

    try:
        return int(getattr(commands, f"cmd_{args.command}")(args) or 0)
    except CliError as exc:
        print(f"tensorstore-py: error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        print("tensorstore-py: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 1
