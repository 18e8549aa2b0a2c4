"""The package as a user installs it: sdist and wheel built from the repository, the wheel
installed into a fresh virtualenv without any test tool, imported and its command run from
another directory; the public API typed well enough for `mypy --strict` on user code."""

from __future__ import annotations

import os
import subprocess
import sys
import venv

import pytest

# Building the extensions dominates; on a loaded 2-core machine it takes minutes.
pytestmark = pytest.mark.timeout(1500)

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SAMPLE = os.path.join(os.path.dirname(__file__), "sample_user_code.py")


def _run(cmd: list[str], cwd: str, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    assert r.returncode == 0, f"{cmd}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(python of a fresh venv holding the wheel, the dist directory)."""
    dist = tmp_path_factory.mktemp("dist")
    # The sdist first, then the wheel built from the unpacked sdist: what the sdist lacks, the
    # wheel lacks too.  No isolation: the build requirements are those of this environment.
    _run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), REPO], cwd=str(dist), timeout=1200)
    wheels = [f for f in os.listdir(dist) if f.endswith(".whl")]
    sdists = [f for f in os.listdir(dist) if f.endswith(".tar.gz")]
    assert len(wheels) == 1 and len(sdists) == 1, os.listdir(dist)
    env_dir = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=True, clear=True).create(str(env_dir))
    python = os.path.join(env_dir, "bin", "python")
    _run([python, "-m", "pip", "install", "-q", os.path.join(dist, wheels[0])], cwd=str(env_dir))
    return python, str(dist)


def test_sdist_holds_the_sources(installed):
    import tarfile

    _, dist = installed
    (name,) = [f for f in os.listdir(dist) if f.endswith(".tar.gz")]
    with tarfile.open(os.path.join(dist, name)) as tar:
        members = {m.split("/", 1)[1] for m in tar.getnames() if "/" in m}
    for path in ("pyproject.toml", "setup.py", "README.md", "tensorstore_py/__init__.py",
                 "tensorstore_py/py.typed", "tensorstore_py/cli/__init__.py", "_ext/copy.pyx"):
        assert path in members, path


def test_wheel_in_a_fresh_venv_imports_and_runs_the_cli_elsewhere(installed, tmp_path):
    python, _ = installed
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {"PYTHONPATH": "", "TMPDIR": str(tmp_path)}
    probe = _run([python, "-c", (
        "import importlib.util, tensorstore_py as ts, numpy as np\n"
        "print(ts.__file__)\n"
        "print([m for m in ('pytest', 'hypothesis', 'tensorstore', 'zarr') if importlib.util.find_spec(m)])\n"
        "s = ts.open({'driver': 'zarr', 'kvstore': 'file://%s/a.zarr'}, create=True, dtype=ts.int16,"
        " shape=[40, 30], chunk_layout=ts.ChunkLayout(chunk_shape=[16, 16])).result()\n"
        "s.write(np.arange(1200, dtype=np.int16).reshape(40, 30)).result()\n"
        "print(int(s[3:5, 7].read().result().sum()))\n"
        "from tensorstore_py._ext import copy\n" % elsewhere)], cwd=str(elsewhere), env=env)
    file_line, missing_line, total = probe.stdout.splitlines()
    assert "site-packages" in file_line and not file_line.startswith(REPO)
    assert missing_line == "[]"  # no test tool came with the wheel
    assert int(total) == 97 + 127
    script = os.path.join(os.path.dirname(python), "tensorstore-py")
    info = _run([script, "info", "a.zarr", "--json"], cwd=str(elsewhere), env=env)
    assert '"chunks_stored": 6' in info.stdout
    copy = _run([python, "-m", "tensorstore_py", "copy", "a.zarr", "b.zarr|zarr3:"], cwd=str(elsewhere), env=env)
    assert "copy: 100.0%" in copy.stderr
    bench = _run([script, "bench", "--size-mib", "1"], cwd=str(elsewhere), env=env)
    assert "MiB/s" in bench.stdout
    sample = _run([python, SAMPLE, str(elsewhere / "sample.zarr")], cwd=str(elsewhere), env=env)
    assert sample.stdout.splitlines() == ["(10, 20) True True", "6.0 [b'a']"]


def test_mypy_strict_on_typical_user_code(installed, tmp_path):
    """mypy (from the test environment) checks the sample against the installed wheel."""
    python, _ = installed
    r = subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", str(tmp_path),
                        "--python-executable", python, SAMPLE], capture_output=True, text=True, timeout=600,
                       cwd=str(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Success: no issues found in 1 source file" in r.stdout
