"""Runs the `>>>` examples of a Markdown file as doctests with top-level `await`.

TensorStore's documentation writes `await ts.open(...)` at the prompt; Python's doctest module
cannot run that, so each example is compiled with PyCF_ALLOW_TOP_LEVEL_AWAIT and, when it yields
a coroutine, run on one event loop kept for the whole file.  Output must match exactly.
"""

from __future__ import annotations

import ast
import asyncio
import builtins
import contextlib
import doctest
import inspect
import io
import sys
import types
from dataclasses import dataclass


@dataclass
class ExampleFailure:
    lineno: int
    source: str
    want: str
    got: str

    def __str__(self) -> str:
        return f"line {self.lineno}:\n{self.source}\n--- expected:\n{self.want}--- got:\n{self.got}"


def examples(path: str) -> list[doctest.Example]:
    with open(path, encoding="utf-8") as f:
        text = f.read()
    return doctest.DocTestParser().get_examples(text, path)


def blocks(path: str) -> list[list[doctest.Example]]:
    """The examples of `path` grouped into blocks: runs of examples with only blank text between."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    out: list[list[doctest.Example]] = []
    current: list[doctest.Example] = []
    for piece in doctest.DocTestParser().parse(text, path):
        if isinstance(piece, doctest.Example):
            current.append(piece)
        elif piece.strip() and current:
            out.append(current)
            current = []
    if current:
        out.append(current)
    return out


def run_file(path: str, globs: dict) -> list[ExampleFailure]:
    """Runs every example of `path` in order; returns the mismatches."""
    return run_examples(examples(path), globs)


def run_examples(exs: list[doctest.Example], globs: dict) -> list[ExampleFailure]:
    """Runs `exs` in order in `globs`; returns the mismatches (stops at an unexpected exception)."""
    # Functions defined in examples need builtins in their globals (hypothesis looks them up).
    globs.setdefault("__builtins__", __builtins__)
    loop = asyncio.new_event_loop()
    # As a module's namespace has: pickle imports through the running code's builtins.
    globs.setdefault("__builtins__", builtins)
    failures = []
    try:
        for ex in exs:
            got = _run(ex.source, globs, loop, ex.lineno)
            if got != ex.want:
                failures.append(ExampleFailure(ex.lineno + 1, ex.source, ex.want, got))
                if "Traceback" in got and "Traceback" not in ex.want:
                    break
    finally:
        loop.close()
    return failures


def _run(source: str, globs: dict, loop: asyncio.AbstractEventLoop, lineno: int) -> str:
    out = io.StringIO()
    code = compile(source, f"<example line {lineno + 1}>", "single", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT)
    old_hook = sys.displayhook

    def display(value):
        if value is not None:
            out.write(repr(value) + "\n")

    sys.displayhook = display
    try:
        with contextlib.redirect_stdout(out):
            result = types.FunctionType(code, globs)()
            if inspect.iscoroutine(result):
                loop.run_until_complete(result)
    except Exception as exc:  # noqa: BLE001 - reported as output, as doctest does
        out.write(f"Traceback (most recent call last):\n{type(exc).__name__}: {exc}\n")
    finally:
        sys.displayhook = old_hook
    return out.getvalue()
