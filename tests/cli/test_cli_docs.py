"""Runs the ``$ command`` examples of docs/cli.md in order, in one empty directory, through a
shell whose PATH starts with this environment's scripts, and compares their output (standard
output and error together) with what the page shows.  A line ``...`` matches any number of
lines; ``...`` inside a line matches any text."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "cli.md")


def console_examples(path: str) -> list[tuple[int, str, list[str]]]:
    """(line number, command, expected output lines) of every ``$`` line in console fences."""
    out: list[tuple[int, str, list[str]]] = []
    in_console = False
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f.read().split("\n"), 1):
            if line.startswith("```"):
                in_console = line.strip() == "```console"
                continue
            if not in_console:
                continue
            if line.startswith("$ "):
                out.append((n, line[2:], []))
            elif out:
                out[-1][2].append(line)
    return out


def _line_pattern(expected: str) -> re.Pattern:
    return re.compile("^" + ".*".join(re.escape(part) for part in expected.split("...")) + "$")


def matches(expected: list[str], got: list[str]) -> bool:
    if not expected:
        return not got
    head, rest = expected[0], expected[1:]
    if head == "...":
        return any(matches(rest, got[i:]) for i in range(len(got) + 1))
    return bool(got) and bool(_line_pattern(head).match(got[0])) and matches(rest, got[1:])


def test_examples_are_found():
    examples = console_examples(DOC)
    assert len(examples) >= 10 and examples[0][1] == "tensorstore-py --help"


def test_cli_page_examples(tmp_path):
    env = dict(os.environ, PATH=os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", ""),
               COLUMNS="80")
    failures = []
    status = 0
    for lineno, command, expected in console_examples(DOC):
        # `$?` of an example is the exit status of the one before it, as in a shell session.
        script = f"(exit {status}); {command}"
        r = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=300)
        status = r.returncode
        got = (r.stdout + r.stderr).rstrip("\n").split("\n") if (r.stdout + r.stderr) else []
        if not matches(expected, got):
            failures.append(f"line {lineno}: $ {command}\n--- expected:\n" + "\n".join(expected)
                            + "\n--- got:\n" + "\n".join(got))
    assert not failures, "\n\n".join(failures)


@pytest.mark.parametrize("expected,got,ok", [
    (["a", "...", "d"], ["a", "b", "c", "d"], True),
    (["a ... c"], ["a bb c"], True),
    (["a"], ["a", "b"], False),
    (["..."], [], True),
])
def test_matching(expected, got, ok):
    assert matches(expected, got) is ok
