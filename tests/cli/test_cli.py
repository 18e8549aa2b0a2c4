"""The tensorstore-py command, run as a user runs it: in a subprocess, in a pipe or on a pseudo-terminal."""

from __future__ import annotations

import json
import os
import pty
import select
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tensorstore

import tensorstore_py as ts

SCRIPT = os.path.join(os.path.dirname(sys.executable), "tensorstore-py")


def run(*args: str, env: dict | None = None, cwd: str | None = None, module: bool = True) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "tensorstore_py", *args] if module else [SCRIPT, *args]
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(cmd, capture_output=True, text=True, env=full_env, cwd=cwd, timeout=240)


def make_zarr(path, shape=(100, 60), chunks=(32, 32), dtype="uint16", compressor=None):
    data = np.arange(int(np.prod(shape)), dtype=dtype).reshape(shape)
    store = tensorstore.open(
        {"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}, "metadata": {"compressor": compressor}},
        create=True, dtype=dtype, shape=list(shape), chunk_layout=tensorstore.ChunkLayout(chunk_shape=list(chunks)),
    ).result()
    store.write(data).result()
    return data


def tree_sizes(path) -> dict[str, int]:
    out = {}
    for d, _, files in os.walk(path):
        for f in files:
            full = os.path.join(d, f)
            out[os.path.relpath(full, path)] = os.path.getsize(full)
    return out


# -- info ---------------------------------------------------------------------------------------


def test_info_text_and_json(tmp_path):
    make_zarr(tmp_path / "a.zarr")
    sizes = tree_sizes(tmp_path / "a.zarr")
    r = run("info", str(tmp_path / "a.zarr"), "--json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert (info["driver"], info["dtype"], info["shape"]) == ("zarr", "uint16", [100, 60])
    assert info["chunk_layout"]["read_chunk"]["shape"] == [32, 32]
    assert info["storage"] == {"chunks_stored": 8, "chunk_bytes": 8 * 32 * 32 * 2,
                               "total_bytes": sum(sizes.values()), "keys": 9}
    text = run("info", f"file://{tmp_path}/a.zarr|zarr2:", module=False)
    assert text.returncode == 0, text.stderr
    assert "dtype:       uint16" in text.stdout and "stored:      8 chunks" in text.stdout


def test_info_errors_are_one_line_with_exit_codes(tmp_path):
    missing = run("info", str(tmp_path / "nothing.zarr"))
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.startswith("tensorstore-py: error: cannot open") and "Traceback" not in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    bad = run("info", '{"driver": "zarr", "kvstore": ')
    assert bad.returncode == 2 and "invalid JSON spec" in bad.stderr
    invalid = run("info", '{"driver": "no_such_driver"}')
    assert invalid.returncode == 2 and "not a registered TensorStore driver" in invalid.stderr
    usage = run("frobnicate")
    assert usage.returncode == 2 and "invalid choice" in usage.stderr


# -- ls -----------------------------------------------------------------------------------------


def test_ls_sizes_and_levels(tmp_path):
    make_zarr(tmp_path / "d" / "a.zarr")
    (tmp_path / "d" / "top.bin").write_bytes(b"12345")
    sizes = tree_sizes(tmp_path / "d")
    r = run("ls", str(tmp_path / "d"), "--recursive", "--json")
    assert r.returncode == 0, r.stderr
    assert {e["key"]: e["size"] for e in json.loads(r.stdout)} == sizes
    one = json.loads(run("ls", f"file://{tmp_path}/d/", "--json").stdout)
    assert one == [{"key": "a.zarr/", "size": sum(v for k, v in sizes.items() if k.startswith("a.zarr/")), "keys": 9},
                   {"key": "top.bin", "size": 5}]
    text = run("ls", str(tmp_path / "d"))
    assert text.stdout.splitlines()[-1].split() == ["5", "top.bin"]


def test_ls_of_memory_and_bad_urls():
    r = run("ls", "memory://")
    assert r.returncode == 0 and r.stdout == ""
    bad = run("ls", "nosuchscheme://x")
    assert bad.returncode == 2 and bad.stderr.startswith("tensorstore-py: error: cannot list")


# -- copy ---------------------------------------------------------------------------------------


def test_copy_zarr_to_zarr3_rechunked_and_read_by_tensorstore(tmp_path):
    data = make_zarr(tmp_path / "a.zarr", compressor={"id": "zlib", "level": 1})
    dst = f"{tmp_path}/b.zarr|zarr3:"
    r = run("copy", str(tmp_path / "a.zarr"), dst, "--chunk-layout", '{"chunk": {"shape": [50, 20]}}',
            "--no-progress", "--stats")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    stats = json.loads(r.stdout)
    assert stats["elements_written"] == data.size and stats["chunks_written"] == 2 * 3
    theirs = tensorstore.open(f"file://{tmp_path}/b.zarr|zarr3:").result()
    assert theirs.chunk_layout.read_chunk.shape == (50, 20)
    np.testing.assert_array_equal(theirs.read().result(), data)


def test_copy_keeps_format_and_codec_by_default(tmp_path):
    data = make_zarr(tmp_path / "a.zarr", compressor={"id": "zlib", "level": 1})
    r = run("copy", str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr"), "--no-progress")
    assert r.returncode == 0, r.stderr
    b = ts.open(f"file://{tmp_path}/b.zarr").result()
    assert b.spec().to_json()["metadata"]["compressor"] == {"id": "zlib", "level": 1}
    assert b.chunk_layout.read_chunk.shape == (32, 32)
    np.testing.assert_array_equal(b.read().result(), data)


def test_copy_refuses_an_existing_destination_unless_overwrite(tmp_path):
    make_zarr(tmp_path / "a.zarr")
    other = make_zarr(tmp_path / "b.zarr", shape=(10, 10), chunks=(5, 5), dtype="int32")
    r = run("copy", str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr"))
    assert r.returncode == 1 and "is not empty" in r.stderr and "--overwrite" in r.stderr
    np.testing.assert_array_equal(ts.open(f"file://{tmp_path}/b.zarr").result().read().result(), other)
    r = run("copy", str(tmp_path / "a.zarr"), str(tmp_path / "b.zarr"), "--overwrite", "--no-progress")
    assert r.returncode == 0, r.stderr
    assert ts.open(f"file://{tmp_path}/b.zarr").result().shape == (100, 60)


def test_copy_to_an_unwritable_destination_fails_cleanly(tmp_path):
    make_zarr(tmp_path / "a.zarr")
    (tmp_path / "file").write_text("not a directory")
    r = run("copy", str(tmp_path / "a.zarr"), str(tmp_path / "file" / "b.zarr"), "--no-progress")
    assert r.returncode == 1, r.stderr
    assert r.stderr.startswith("tensorstore-py: error:") and "Traceback" not in r.stderr
    assert (tmp_path / "file").read_text() == "not a directory"
    missing_src = run("copy", str(tmp_path / "none.zarr"), str(tmp_path / "c.zarr"))
    assert missing_src.returncode == 1 and "cannot open source" in missing_src.stderr
    assert not (tmp_path / "c.zarr").exists()


def _big_source(tmp_path):
    """A source whose copy takes seconds: many small chunks."""
    return make_zarr(tmp_path / "big.zarr", shape=(128, 256, 256), chunks=(16, 16, 32), compressor={"id": "zlib", "level": 1})


def _start_copy(tmp_path, *extra: str, stderr=subprocess.PIPE) -> subprocess.Popen:
    env = dict(os.environ, TSPY_PROGRESS_INTERVAL="0.05")
    return subprocess.Popen([sys.executable, "-m", "tensorstore_py", "copy", str(tmp_path / "big.zarr"),
                             str(tmp_path / "out.zarr"), *extra], stderr=stderr, stdout=subprocess.PIPE,
                            text=True, env=env)


def _wait_for_partial_progress(proc: subprocess.Popen) -> str:
    """Reads progress lines until one shows a copy neither started nor finished."""
    for line in proc.stderr:
        pct = float(line.split("%")[0].split()[-1]) if "%" in line else 0.0
        if 0.0 < pct < 90.0:
            return line
    raise AssertionError(f"the copy ended before it could be interrupted (rc {proc.wait()})")


def _assert_no_array(path) -> None:
    for lib in (ts, tensorstore):
        with pytest.raises(ValueError, match="NOT_FOUND|Failed to detect"):
            lib.open({"driver": "zarr", "kvstore": {"driver": "file", "path": str(path)}}).result()


def test_copy_killed_halfway_leaves_no_array_that_opens(tmp_path):
    _big_source(tmp_path)
    proc = _start_copy(tmp_path)
    try:
        line = _wait_for_partial_progress(proc)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert "elements" in line
    assert any(f != ".zarray" for f in os.listdir(tmp_path / "out.zarr"))  # chunks were being written ...
    assert not (tmp_path / "out.zarr" / ".zarray").exists()  # ... and no metadata yet
    _assert_no_array(tmp_path / "out.zarr")


def test_copy_interrupted_cleans_up(tmp_path):
    _big_source(tmp_path)
    proc = _start_copy(tmp_path)
    try:
        _wait_for_partial_progress(proc)
        os.kill(proc.pid, signal.SIGINT)
        rest = proc.stderr.read()
    finally:
        proc.wait()
    assert proc.returncode == 130, rest
    assert "interrupted" in rest
    assert tree_sizes(tmp_path / "out.zarr") == {} if (tmp_path / "out.zarr").exists() else True
    _assert_no_array(tmp_path / "out.zarr")


def test_progress_in_a_pipe_is_plain_lines(tmp_path):
    data = make_zarr(tmp_path / "big.zarr", shape=(64, 128, 128), chunks=(16, 32, 32))
    proc = _start_copy(tmp_path)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    lines = err.splitlines()
    assert lines and "\r" not in err and "\x1b" not in err
    assert all(line.startswith("copy: ") for line in lines)
    assert lines[-1].startswith("copy: 100.0%") and f"{data.size}/{data.size} elements" in lines[-1]
    assert "ETA" not in lines[-1] and "MiB" in lines[-1]


def test_progress_on_a_terminal_is_a_bar(tmp_path):
    data = make_zarr(tmp_path / "big.zarr", shape=(64, 128, 128), chunks=(16, 32, 32))
    master, slave = pty.openpty()
    try:
        proc = _start_copy(tmp_path, stderr=slave)
        os.close(slave)
        chunks = []
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    got = os.read(master, 4096)
                except OSError:  # the other end closed
                    break
                if not got:
                    break
                chunks.append(got)
            elif proc.poll() is not None:
                break
        assert proc.wait(timeout=60) == 0
    finally:
        os.close(master)
    out = b"".join(chunks).decode()
    assert "\r\x1b[K" in out  # redrawn in place
    final = out.rsplit("\r\x1b[K", 1)[-1]
    assert final.startswith("copy: 100.0% |" + "#" * 30 + "|") and f"{data.size}/{data.size}" in final


# -- bench --------------------------------------------------------------------------------------


def test_bench_reports_and_cleans_up(tmp_path):
    r = run("bench", "--size-mib", "2", "--json", env={"TMPDIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    result = json.loads(r.stdout)
    assert result["format"] == "zarr" and result["mib"] == 2.0
    assert result["write_mib_per_s"] > 0 and result["read_mib_per_s"] > 0
    assert os.listdir(tmp_path) == []
    text = run("bench", "--size-mib", "1", "--format", "zarr3", env={"TMPDIR": str(tmp_path)})
    assert text.returncode == 0 and "MiB/s" in text.stdout
    assert run("bench", "--size-mib", "0").returncode == 2


def test_sizes_of_remote_stores_only_when_asked():
    """Values of stores other than file and memory are sized only with --sizes (by reading them)."""
    from tensorstore_py.cli import commands

    ctx = ts.Context()
    kv = ts.KvStore.open({"driver": "zip", "base": "memory://a.zip"}, context=ctx).result()
    kv.write("x/1", b"12345").result()
    kv.write("y", b"ab").result()
    keys = commands._list(kv)
    assert keys == [b"x/1", b"y"]
    assert commands._sizes(kv, keys) == [None, None]
    assert commands._sizes(kv, keys, read_remote=True) == [5, 2]
