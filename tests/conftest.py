import os
import sys

import pytest

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
