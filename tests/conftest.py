import os
import sys

import pytest
from hypothesis import settings

# CI replays the same examples every run (a red CI then means a regression, not a new random
# draw); local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
# TSPY_EXAMPLES=N: every property test without its own count, and every conformance-kit test
# (tensorstore_py.testing), runs N examples (10000 for the strategies' validity runs).
if os.environ.get("TSPY_EXAMPLES"):
    settings.register_profile("examples", settings.default, max_examples=int(os.environ["TSPY_EXAMPLES"]), deadline=None)
    settings.load_profile("examples")

# Test helpers (markdown_doctest) live beside the tests.
sys.path.insert(0, os.path.dirname(__file__))


def pytest_collection_modifyitems(config, items):
    """`slow` cases (stress runs, wall-clock measurements) run only with TSPY_SLOW=1."""
    if os.environ.get("TSPY_SLOW") == "1":
        return
    skip = pytest.mark.skip(reason="slow: set TSPY_SLOW=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
