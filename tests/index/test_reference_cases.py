"""Differential unit tests: each listed expression gives the same repr/str/JSON or error as tensorstore."""

from __future__ import annotations

import numpy as np
import pytest

from index_helpers import same
from index_cases import (
    COMPOSITION, DIM_EXPRESSION_REPRS, DIM_EXPRESSIONS, DOMAIN_INDEXING, NUMPY_INDEXING, TRANSFORMS,
)  # fmt: skip


def _check(expr: str) -> None:
    same(lambda m: eval(expr, {"ts": m, "np": np}))


@pytest.mark.parametrize("expr", NUMPY_INDEXING)
def test_numpy_indexing(expr):
    _check(expr)


@pytest.mark.parametrize("expr", DIM_EXPRESSIONS)
def test_dim_expressions(expr):
    _check(expr)


@pytest.mark.parametrize("expr", DIM_EXPRESSION_REPRS)
def test_dim_expression_reprs(expr):
    _check(expr)


@pytest.mark.parametrize("expr", DOMAIN_INDEXING)
def test_domain_indexing(expr):
    _check(expr)


@pytest.mark.parametrize("expr", TRANSFORMS)
def test_transforms(expr):
    _check(expr)


@pytest.mark.parametrize("expr", COMPOSITION)
def test_composition(expr):
    _check(expr)
