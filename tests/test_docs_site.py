"""The documentation site builds with `mkdocs build --strict` and no warning, renders the
doctest examples as code, and the performance figure is drawn from the recorded results."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tools"))

from mkdocs_hooks import fence_examples  # noqa: E402


def test_site_builds_without_warnings(tmp_path):
    pytest.importorskip("mkdocs")
    site = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=REPO,
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    output = r.stdout + r.stderr
    assert r.returncode == 0, output
    assert "WARNING" not in output, output
    for page in ("index.html", "cli/index.html", "statistics/index.html", "architecture/index.html",
                 "performance/index.html", "errors/index.html", "getting_started/index.html"):
        assert (site / page).exists(), page
    statistics_page = (site / "statistics" / "index.html").read_text()
    assert '<span class="gp">&gt;&gt;&gt; </span>' in statistics_page  # highlighted as a console session
    assert (site / "img" / "performance.png").exists()


def test_hook_fences_examples_outside_code_blocks():
    text = "Intro\n\n>>> 1 + 1\n2\n\nText\n\n```python\n>>> kept\n```\n"
    assert fence_examples(text) == "Intro\n\n```pycon\n>>> 1 + 1\n2\n```\n\nText\n\n```python\n>>> kept\n```\n"


def test_performance_figure_is_drawn_from_the_recorded_results(tmp_path):
    pytest.importorskip("matplotlib")
    out = tmp_path / "performance.png"
    r = subprocess.run([sys.executable, os.path.join(REPO, "bench", "plot.py"), "--out", str(out)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 10000
