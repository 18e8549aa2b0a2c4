"""The seed document's n5 example prints exactly what TensorStore prints."""

from __future__ import annotations

import os

import numpy as np

import tensorstore_py as ts
from markdown_doctest import blocks, run_examples

SEED = os.path.join(os.path.dirname(__file__), "..", "seed", "examples.md")


def test_seed_n5_example_exact_output():
    n5_blocks = [b for b in blocks(SEED) if any("'n5'" in ex.source for ex in b)]
    assert len(n5_blocks) == 1
    failures = run_examples(n5_blocks[0], {"ts": ts, "np": np})
    assert not failures, "\n\n".join(map(str, failures))
