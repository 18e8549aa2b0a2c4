"""Every `>>>` example in docs/*.md runs against tensorstore_py and prints what is shown."""

import glob
import os

import numpy as np
import pytest

import tensorstore_py as ts
from markdown_doctest import run_file

DOCS = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "docs", "*.md")))


@pytest.mark.parametrize("path", DOCS, ids=[os.path.basename(p) for p in DOCS])
def test_doc_examples(path):
    failures = run_file(path, {"ts": ts, "np": np})
    assert not failures, "\n\n".join(map(str, failures))


def test_docs_exist():
    assert DOCS
