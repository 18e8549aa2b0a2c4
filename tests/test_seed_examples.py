"""The seed document's runnable examples (tests/seed/examples.md, a copy of
shared/seed/examples.md) must print exactly what TensorStore prints."""

import os

import numpy as np
import pytest

import tensorstore_py as ts
from markdown_doctest import blocks, run_examples
from tensorstore_py.driver import base as driver_base

HERE = os.path.dirname(__file__)
SEED = os.path.join(HERE, "seed", "examples.md")
BLOCKS = blocks(SEED)


def _drivers(block) -> set:
    text = "".join(ex.source for ex in block)
    return {name for name in ("n5", "neuroglancer_precomputed", "zarr3") if f"'{name}'" in text or f'"{name}"' in text}


@pytest.mark.parametrize("index", range(len(BLOCKS)), ids=[f"line{b[0].lineno + 1}" for b in BLOCKS])
def test_seed_example_exact_output(index):
    block = BLOCKS[index]
    for name in _drivers(block):
        try:
            driver_base.driver_for_id(name)
        except ValueError:
            pytest.skip(f"the {name} driver is not implemented yet")
    failures = run_examples(block, {"ts": ts, "np": np})
    assert not failures, "\n\n".join(map(str, failures))


def test_seed_has_the_expected_examples():
    assert len(BLOCKS) == 7


def test_seed_copy_is_current():
    shared = os.path.join(HERE, "..", "..", "shared", "seed", "examples.md")
    if not os.path.exists(shared):
        pytest.skip("shared/ is not beside this checkout")
    with open(shared) as a, open(SEED) as b:
        assert a.read() == b.read()
