"""mkdocs hook: renders the doctest examples of docs/*.md as Python console code blocks.

The pages keep bare ``>>>`` examples (so that tests/test_docs.py runs them as doctests); on
the site, each run of example lines up to the next blank line becomes a ``pycon`` fence.
"""

from __future__ import annotations

from typing import Any


def fence_examples(markdown: str) -> str:
    out: list[str] = []
    in_fence = False
    in_example = False
    for line in markdown.split("\n"):
        stripped = line.strip()
        if not in_example and stripped.startswith("```"):
            in_fence = not in_fence
            out.append(line)
            continue
        if in_fence:
            out.append(line)
            continue
        if in_example:
            if stripped == "":
                out.append("```")
                out.append("")
                in_example = False
            else:
                out.append(line)
            continue
        if line.startswith(">>>"):
            out.append("```pycon")
            out.append(line)
            in_example = True
            continue
        out.append(line)
    if in_example:
        out.append("```")
    return "\n".join(out)


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    return fence_examples(markdown)
