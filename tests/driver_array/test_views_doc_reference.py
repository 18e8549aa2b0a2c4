"""docs/virtual_views.md shows what tensorstore 0.1.86 prints: its examples run against the
reference give exactly the outputs shown (tests/test_docs.py runs them against this package)."""

import os

import numpy as np
import pytest
from markdown_doctest import run_file

ref = pytest.importorskip("tensorstore")

DOC = os.path.join(os.path.dirname(__file__), "..", "..", "docs", "virtual_views.md")


def test_virtual_views_doc_matches_the_reference():
    failures = run_file(DOC, {"ts": ref, "np": np})
    assert not failures, "\n\n".join(map(str, failures))
