import os
import sys

import pytest
from hypothesis import settings

# CI replays the same examples every run (a red CI then means a regression, not a new random
# draw); local runs keep exploring new ones.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

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
