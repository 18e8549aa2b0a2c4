"""Every Cython kernel validates its arguments before touching memory (issue 16, defect 9):
degenerate and random arguments give ValueError / TypeError / IndexError / OverflowError, never
a crash or an out-of-bounds read.  The calls run in a child process, whose exit status shows a
crash; ``group_points`` of zero points and a very wide rank used to read far outside its input.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(__file__), "kernel_argument_worker.py")
DEEP = os.environ.get("TSPY_FUZZ_DEEP") == "1"


@pytest.mark.parametrize("seed", range(3 if not DEEP else 30))
def test_kernels_refuse_bad_arguments_without_crashing(seed):
    done = subprocess.run([sys.executable, WORKER, str(seed), "20" if not DEEP else "400"],
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, f"exit status {done.returncode}: {done.stderr[-2000:]}"
    assert int(done.stdout.split()[-1]) > 0


def test_group_points_of_no_points_in_a_very_wide_rank():
    import numpy as np

    from tensorstore_py._ext import grid

    code = ("import numpy as np; from tensorstore_py._ext import grid; "
            "u, o, s = grid.group_points(np.empty((0, 50_000_000), np.int64)); "
            "print(u.shape, o.shape, s.tolist())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split("\n")[0] == "(0, 50000000) (0,) [0]"
    unique, order, starts = grid.group_points(np.empty((4, 0), np.int64))
    assert unique.shape == (1, 0) and order.tolist() == [0, 1, 2, 3] and starts.tolist() == [0, 4]
