"""What a downsampled array is, computed from a box of its base: methods, domains, reductions.

Blocks are aligned to index 0 of the base: block k of a dimension with factor f covers base
indices [k*f, (k+1)*f), cut to the base's domain.  Every method but ``stride`` gives one
element per block the base domain touches; ``stride`` takes the base element at k*f and so has
only the blocks whose first index lies inside the base domain.
"""

from __future__ import annotations

import functools
import math
from typing import Any, Sequence

import numpy as np

from ...errors import invalid_argument
from ...json_util import dumps

try:
    from ..._ext import downsample as _kernel
except ImportError:  # pragma: no cover - only before the extension is built
    _kernel = None

__all__ = ["METHODS", "parse_method", "check_dtype", "downsample_interval", "downsample_domain", "reduce_box"]

#: In the order TensorStore lists them in its error messages.
METHODS = ("stride", "mean", "min", "max", "median", "mode")
_KERNEL_METHOD = {"mean": 1, "median": 2, "mode": 3, "min": 4, "max": 5}
_INF = (1 << 62) - 1


def parse_method(method: Any) -> str:
    if method not in METHODS:
        choices = ", ".join(dumps(m) for m in METHODS)
        raise invalid_argument(f"Expected one of {choices}, but received: {dumps(method)}")
    return method


_ORDERED_ONLY = ("min", "max", "median")
_OBJECT_KINDS = ("string", "ustring", "json", "char", "byte")


def check_dtype(method: str, dtype: Any) -> None:
    """INVALID_ARGUMENT when `method` cannot reduce elements of `dtype` (a ts.dtype)."""
    name = dtype.name
    unsupported = False
    if method in ("mean", *_ORDERED_ONLY) and name in _OBJECT_KINDS:
        unsupported = True
    elif method in _ORDERED_ONLY and name.startswith("complex"):
        unsupported = True
    if unsupported:
        raise invalid_argument(f'Downsample method "{method}" does not support data type "{name}"')


def downsample_interval(lo: int, hi: int, factor: int, method: str) -> tuple[int, int]:
    """The downsampled [lo, hi) (exclusive) of base interval [lo, hi); infinite bounds stay."""
    if hi <= lo:  # empty: the block (or first stride position) of lo, empty
        start = _ceil_div(lo, factor) if method == "stride" else lo // factor
        return start, start
    new_lo = lo if lo <= -_INF else (_ceil_div(lo, factor) if method == "stride" else lo // factor)
    new_hi = hi if hi > _INF else _ceil_div(hi, factor)
    return new_lo, new_hi


def _ceil_div(a: int, b: int) -> int:
    return -((-a) // b)


def downsample_domain(domain: Any, factors: Sequence[int], method: str) -> Any:
    """The `IndexDomain` of the downsampled view of a base view with `domain`."""
    from ...index import IndexDomain

    los, his = [], []
    for d in range(domain.rank):
        lo, hi = downsample_interval(domain._lo[d], domain._hi[d] + 1, factors[d], method)
        los.append(lo)
        his.append(hi - 1)
    return IndexDomain._make(los, his, domain._il, domain._iu, domain._labels)


def base_box(lo: Sequence[int], hi: Sequence[int], factors: Sequence[int], base_lo: Sequence[int], base_hi: Sequence[int]):
    """The base interval ([lo, hi) per dim) holding downsampled box [lo, hi), cut to the base's
    bounds ([base_lo, base_hi) exclusive)."""
    blo = [max(l * f, b) for l, f, b in zip(lo, factors, base_lo)]
    bhi = [min(h * f, b) for h, f, b in zip(hi, factors, base_hi)]
    return blo, [max(h, l) for l, h in zip(blo, bhi)]


def repeat_edges(data: np.ndarray, src_lo: Sequence[int], out_lo: Sequence[int], out_shape: Sequence[int],
                 factors: Sequence[int], dims: Sequence[bool]) -> tuple[np.ndarray, list[int]]:
    """`data` (from `src_lo`) padded along `dims` to whole blocks by repeating its edge elements."""
    widths, new_lo = [], []
    for d, (n, l, o, k, f) in enumerate(zip(data.shape, src_lo, out_lo, out_shape, factors)):
        before = l - o * f if dims[d] else 0
        after = (o + k) * f - (l + n) if dims[d] else 0
        widths.append((before, max(after, 0)))
        new_lo.append(l - before)
    if not any(a or b for a, b in widths):
        return data, list(src_lo)
    return np.pad(data, widths, mode="edge"), new_lo


def reduce_box(src: np.ndarray, src_lo: Sequence[int], out_lo: Sequence[int], out_shape: Sequence[int],
               factors: Sequence[int], method: str, out: np.ndarray | None = None) -> np.ndarray:
    """Downsampled values of the box `out_lo` + `out_shape` from `src`, the base's values over
    [src_lo, src_lo + src.shape) (every base position of those blocks inside the base domain)."""
    shape = tuple(int(x) for x in out_shape)
    if out is None:
        out = np.empty(shape, dtype=src.dtype)
    if any(n == 0 for n in shape):
        return out
    if method == "stride":
        index = tuple(slice(o * f - l, None, f) for o, f, l in zip(out_lo, factors, src_lo))
        np.copyto(out, src[index], casting="no")
        return out
    offsets = [l - o * f for l, o, f in zip(src_lo, out_lo, factors)]
    if src.dtype.kind == "c" and method == "mean" and _kernel is not None:
        # Real and imaginary parts average independently: an extra trailing dimension of 2.
        parts = np.ascontiguousarray(src).view(src.dtype.type(0).real.dtype).reshape(src.shape + (2,))
        result = np.empty(shape + (2,), dtype=parts.dtype)
        _kernel.reduce(parts, result, offsets + [0], list(factors) + [1], _KERNEL_METHOD["mean"])
        out[...] = result.view(src.dtype).reshape(shape)
        return out
    compute = _compute_dtype(src.dtype)
    if compute is not None and _kernel is not None:
        s = np.ascontiguousarray(src, dtype=compute)
        if s.ndim == 0:
            s = s.reshape(())
        # The kernel writes any strides (whole elements): a tile's region of the result directly.
        direct = compute == out.dtype and out.flags.writeable and not any(st % out.itemsize for st in out.strides)
        target = out if direct else np.empty(shape, dtype=compute)
        _kernel.reduce(s, target, offsets, list(factors), _KERNEL_METHOD[method])
        if not direct:
            np.copyto(out, target, casting="unsafe")
        return out
    _reduce_python(src, offsets, factors, method, out)
    return out


def _compute_dtype(dtype: np.dtype) -> np.dtype | None:
    """The dtype the kernel computes in for `dtype`, or None for the Python fallback."""
    if dtype.kind in "biu" and dtype.itemsize in (1, 2, 4, 8) and dtype.isnative:
        return dtype
    if dtype.kind == "f" and dtype.itemsize in (4, 8) and dtype.isnative:
        return dtype
    if dtype.kind == "f" or _is_ml_float(dtype):
        return np.dtype(np.float32)  # half-precision types accumulate in float32, as TensorStore
    if _is_ml_int(dtype):
        return np.dtype(np.int8)
    return None


def _is_ml_float(dtype: np.dtype) -> bool:
    return dtype.kind == "V" and (dtype.name.startswith("float") or dtype.name == "bfloat16")


def _is_ml_int(dtype: np.dtype) -> bool:
    return dtype.kind == "V" and dtype.name in ("int2", "int4", "uint2", "uint4")


# ---------------------------------------------------------------------------------------------
# Element types the kernel does not cover (complex, strings, json, char, byte): per block in
# Python.  Only mean (complex) and mode reach here; stride never does.


def _blocks(src: np.ndarray, offsets: Sequence[int], factors: Sequence[int]):
    """(output index, block elements in C order) of every block of `src`."""
    ranges = []
    for n, o, f in zip(src.shape, offsets, factors):
        count = (o + n + f - 1) // f
        ranges.append([(max(k * f - o, 0), min((k + 1) * f - o, n)) for k in range(count)])
    import itertools

    for combo in itertools.product(*[list(enumerate(r)) for r in ranges]):
        index = tuple(k for k, _ in combo)
        block = src[tuple(slice(a, b) for _, (a, b) in combo)]
        yield index, block.reshape(-1)


def _reduce_python(src: np.ndarray, offsets, factors, method: str, out: np.ndarray) -> None:
    for index, block in _blocks(src, offsets, factors):
        if method == "mean":
            acc = block.dtype.type(0)
            for v in block:
                acc = acc + v
            out[index] = acc / block.dtype.type(len(block))
        elif method == "mode":
            out[index] = _mode(list(block), src.dtype)
        else:  # pragma: no cover - check_dtype rejects the rest
            raise invalid_argument(f'Downsample method "{method}" does not support data type "{src.dtype}"')


def _mode(values: list, dtype: np.dtype) -> Any:
    if dtype.kind == "c":
        key = functools.cmp_to_key(lambda a, b: _cmp((a.real, a.imag), (b.real, b.imag)))
    elif dtype.kind == "O":
        key = functools.cmp_to_key(_json_cmp)
    else:
        key = None
    ordered = sorted(values, key=key)
    same = (lambda a, b: _json_cmp(a, b) == 0) if dtype.kind == "O" else (lambda a, b: a == b)
    best, best_run, run = ordered[0], 1, 1
    for i in range(1, len(ordered)):
        run = run + 1 if same(ordered[i], ordered[i - 1]) else 1
        if run > best_run:
            best, best_run = ordered[i], run
    return best


def _cmp(a: Any, b: Any) -> int:
    return int(a > b) - int(a < b)


def _json_rank(v: Any) -> int:
    # Order of JSON value types when comparing values of different types (as nlohmann::json).
    if v is None:
        return 0
    if isinstance(v, bool):
        return 1
    if isinstance(v, (int, float)):
        return 2
    if isinstance(v, dict):
        return 3
    if isinstance(v, list):
        return 4
    if isinstance(v, str):
        return 5
    return 6


def _json_cmp(a: Any, b: Any) -> int:
    """Total order of JSON values (bytes for the string dtype compare bytewise)."""
    if isinstance(a, (bytes, np.bytes_)) and isinstance(b, (bytes, np.bytes_)):
        return _cmp(bytes(a), bytes(b))
    ra, rb = _json_rank(a), _json_rank(b)
    if ra != rb:
        return _cmp(ra, rb)
    if ra == 2:
        if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
            return 1
        return _cmp(a, b)
    if ra == 3:
        ka, kb = sorted(a.items()), sorted(b.items())
        for (x, xv), (y, yv) in zip(ka, kb):
            c = _cmp(x, y) or _json_cmp(xv, yv)
            if c:
                return c
        return _cmp(len(ka), len(kb))
    if ra == 4:
        for x, y in zip(a, b):
            c = _json_cmp(x, y)
            if c:
                return c
        return _cmp(len(a), len(b))
    if ra in (1, 5):
        return _cmp(a, b)
    return 0
