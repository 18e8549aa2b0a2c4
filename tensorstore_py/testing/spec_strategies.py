"""Strategies for the schema and the drivers: chunk layouts, codec specs, fill values, Specs
that open, and opened stores on the memory kvstore with the NumPy arrays they hold."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st

import tensorstore_py as ts

from .index_strategies import LABELS, dtypes

__all__ = [
    "DRIVERS", "DRIVER_DTYPES", "chunk_layouts", "codecs", "fill_values", "spec_json", "specs", "stores",
    "arrays_for",
]  # fmt: skip

DRIVERS = ("zarr", "zarr3", "n5", "neuroglancer_precomputed")

#: The dtypes each driver stores, simplest first.
DRIVER_DTYPES: dict[str, tuple[str, ...]] = {
    "zarr": ("uint8", "int8", "bool", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32",
             "float64", "float16", "complex64", "complex128"),
    "zarr3": ("uint8", "int8", "bool", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32",
              "float64", "float16", "bfloat16", "complex64", "complex128"),
    "n5": ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "int64", "float32", "float64"),
    "neuroglancer_precomputed": ("uint8", "int8", "uint16", "int16", "uint32", "int32", "uint64", "float32"),
}  # fmt: skip

_BLOSC_CNAMES = ("lz4", "lz4hc", "blosclz", "zstd", "zlib")


def _vector(elem: st.SearchStrategy, rank: int, none: bool = True) -> st.SearchStrategy[list]:
    item = st.one_of(st.none(), elem) if none else elem
    return st.lists(item, min_size=rank, max_size=rank)


@st.composite
def chunk_layouts(draw: Any, rank: int, *, max_chunk: int = 8) -> ts.ChunkLayout:
    """A consistent set of `ChunkLayout` constraints of `rank`: grid origin, inner order, read
    and write chunk shapes (a write chunk a multiple of the read chunk), aspect ratios and
    element counts, each hard or soft.  Shrinks towards no constraint at all."""
    kw: dict[str, Any] = {"rank": rank}
    soft = lambda name: name + ("_soft_constraint" if draw(st.booleans()) else "")  # noqa: E731
    if draw(st.booleans()):
        kw[soft("grid_origin")] = draw(_vector(st.integers(-5, 5), rank))
    if rank and draw(st.booleans()):
        kw[soft("inner_order")] = list(draw(st.permutations(range(rank))))
    if draw(st.booleans()):
        read = draw(_vector(st.integers(1, max_chunk), rank))
        kw["read_chunk_shape"] = read
        if draw(st.booleans()):
            kw["write_chunk_shape"] = [None if r is None else r * draw(st.integers(1, 3)) for r in read]
    elif draw(st.booleans()):
        kw[soft("chunk_shape")] = draw(_vector(st.integers(1, max_chunk), rank))
    if draw(st.booleans()):
        kw["chunk_aspect_ratio_soft_constraint"] = draw(_vector(st.sampled_from([1.0, 0.5, 2.0]), rank))
    if draw(st.booleans()):
        kw["chunk_elements_soft_constraint"] = draw(st.integers(1, 1000))
    return ts.ChunkLayout(**kw)


def fill_values(dtype: ts.dtype | str, *, allow_nan: bool = True) -> st.SearchStrategy[Any]:
    """A fill value representable in `dtype` (a NumPy scalar of it); shrinks towards 0."""
    np_dtype = np.dtype(ts.dtype(dtype).numpy_dtype)
    kind = np_dtype.kind
    if kind == "b":
        values: st.SearchStrategy = st.booleans()
    elif kind in "iu":
        info = np.iinfo(np_dtype)
        values = st.integers(int(info.min), int(info.max))
    elif kind == "f" and np_dtype.itemsize in (2, 4, 8) and np_dtype.name.startswith("float"):
        values = st.floats(width=8 * np_dtype.itemsize, allow_nan=allow_nan)
    elif kind == "c":
        width = 8 * np_dtype.itemsize
        values = st.complex_numbers(width=width, allow_nan=allow_nan, allow_infinity=True)
    else:
        # ml_dtypes' narrow floats: values every one of them holds exactly.
        values = st.sampled_from([0.0, 1.0, -2.0, 0.5] + ([float("nan"), float("inf")] if allow_nan else []))
    return values.map(lambda v: np.array(v).astype(np_dtype)[()])


def _zarr_codec(draw: Any) -> dict:
    kind = draw(st.sampled_from(["none", "zlib", "gzip", "blosc", "zstd", "bz2"]))
    if kind == "none":
        compressor = None
    elif kind in ("zlib", "gzip"):
        compressor = {"id": kind, "level": draw(st.integers(0, 9))}
    elif kind == "bz2":
        compressor = {"id": kind, "level": draw(st.integers(1, 9))}
    elif kind == "zstd":
        compressor = {"id": kind, "level": draw(st.integers(1, 9))}
    else:
        compressor = {"id": "blosc", "cname": draw(st.sampled_from(_BLOSC_CNAMES)),
                      "clevel": draw(st.integers(0, 9)), "shuffle": draw(st.sampled_from([-1, 0, 1, 2]))}  # fmt: skip
    return {"driver": "zarr", "compressor": compressor, "filters": None}


def _zarr3_bytes_codecs(draw: Any) -> list:
    out = []
    for _ in range(draw(st.integers(0, 2))):
        kind = draw(st.sampled_from(["gzip", "zstd", "blosc", "crc32c"]))
        if kind == "gzip":
            out.append({"name": "gzip", "configuration": {"level": draw(st.integers(0, 9))}})
        elif kind == "zstd":
            out.append({"name": "zstd", "configuration": {"level": draw(st.integers(1, 9))}})
        elif kind == "blosc":
            out.append({"name": "blosc", "configuration": {
                "cname": draw(st.sampled_from(_BLOSC_CNAMES)), "clevel": draw(st.integers(0, 9)),
                "shuffle": draw(st.sampled_from(["noshuffle", "shuffle", "bitshuffle"])), "typesize": 1,
                "blocksize": 0}})  # fmt: skip
        else:
            out.append({"name": "crc32c"})
    return out


def _zarr3_chain(draw: Any, rank: int) -> list:
    chain: list = []
    if rank > 1 and draw(st.booleans()):
        chain.append({"name": "transpose", "configuration": {"order": list(draw(st.permutations(range(rank))))}})
    chain.append({"name": "bytes", "configuration": {"endian": draw(st.sampled_from(["little", "big"]))}})
    return chain + _zarr3_bytes_codecs(draw)


def _zarr3_codec(draw: Any, rank: int, inner_chunk: Sequence[int] | None) -> dict:
    chain = _zarr3_chain(draw, rank)
    if inner_chunk is not None:
        index_codecs: list = [{"name": "bytes", "configuration": {"endian": draw(st.sampled_from(["little", "big"]))}}]
        if draw(st.booleans()):
            index_codecs.append({"name": "crc32c"})
        chain = [{"name": "sharding_indexed", "configuration": {
            "chunk_shape": list(inner_chunk), "codecs": chain, "index_codecs": index_codecs,
            "index_location": draw(st.sampled_from(["end", "start"]))}}]  # fmt: skip
    return {"driver": "zarr3", "codecs": chain}


def _n5_codec(draw: Any) -> dict:
    kind = draw(st.sampled_from(["raw", "gzip", "bzip2", "xz", "blosc", "zstd"]))
    if kind == "raw":
        comp: dict = {"type": "raw"}
    elif kind == "gzip":
        comp = {"type": "gzip", "level": draw(st.integers(-1, 9)), "useZlib": draw(st.booleans())}
    elif kind == "bzip2":
        comp = {"type": "bzip2", "blockSize": draw(st.integers(1, 9))}
    elif kind == "xz":
        comp = {"type": "xz", "preset": draw(st.integers(0, 9))}
    elif kind == "zstd":
        comp = {"type": "zstd", "level": draw(st.integers(1, 9))}
    else:
        comp = {"type": "blosc", "cname": draw(st.sampled_from(_BLOSC_CNAMES)), "clevel": draw(st.integers(0, 9)),
                "shuffle": draw(st.integers(0, 2))}  # fmt: skip
    return {"driver": "n5", "compression": comp}


def _precomputed_encodings(dtype: str, channels: int, lossy: bool) -> list[str]:
    out = ["raw"]
    if dtype in ("uint32", "uint64"):
        out.append("compressed_segmentation")
    if dtype == "uint8" and channels <= 4 or dtype == "uint16" and channels <= 2:
        out.append("png")
    if lossy and dtype == "uint8" and channels in (1, 3):
        out.append("jpeg")
    return out


@st.composite
def codecs(draw: Any, driver: str, *, rank: int = 2, dtype: str = "uint8") -> ts.CodecSpec:
    """A `CodecSpec` of `driver` for arrays of `rank` and `dtype`: zarr compressors, zarr3
    codec chains (transpose, bytes, gzip / zstd / blosc / crc32c; sharding when drawn from
    `specs`), n5 compressions, neuroglancer_precomputed encodings."""
    if driver == "zarr":
        return ts.CodecSpec(_zarr_codec(draw))
    if driver == "zarr3":
        return ts.CodecSpec(_zarr3_codec(draw, rank, None))
    if driver == "n5":
        return ts.CodecSpec(_n5_codec(draw))
    if driver == "neuroglancer_precomputed":
        encoding = draw(st.sampled_from(_precomputed_encodings(dtype, 1, True)))
        return ts.CodecSpec({"driver": driver, "encoding": encoding})
    raise ValueError(f"codecs(): unknown driver {driver!r}")


def _shape(draw: Any, rank: int, max_extent: int, max_size: int, min_extent: int = 1) -> list[int]:
    shape, size = [], 1
    for _ in range(rank):
        n = draw(st.integers(min_extent, max(min_extent, min(max_extent, max_size // size))))
        size *= n
        shape.append(n)
    return shape


def _kvstore(draw: Any) -> dict:
    return {"driver": "memory", "path": draw(st.sampled_from(["", "a/", "a/b/"]))}


class _Shape:
    """The choices a spec's array is made of, drawn before any format detail so that an
    example shrinks (to rank 1, uint8, zarr) without its array data moving."""

    __slots__ = ("driver", "dtype", "shape", "chunk")

    def __init__(self, driver: str, dtype: str, shape: list[int], chunk: list[int]):
        self.driver, self.dtype, self.shape, self.chunk = driver, dtype, shape, chunk


@st.composite
def _array_shape(draw: Any, drivers: Sequence[str], dtypes_allowed: Sequence[str] | None, min_rank: int,
                 max_rank: int, max_extent: int, max_size: int) -> _Shape:  # fmt: skip
    usable = [d for d in drivers if d != "neuroglancer_precomputed" or min_rank <= 4 <= max_rank]
    if not usable:
        raise ValueError("spec_json(): no driver allowed within the rank bounds")
    driver = draw(st.sampled_from(usable))
    allowed = [d for d in DRIVER_DTYPES[driver] if dtypes_allowed is None or d in set(dtypes_allowed)]
    if not allowed:
        raise ValueError(f"spec_json(): no allowed dtype for {driver}")
    dtype = draw(dtypes(allowed)).name
    if driver == "neuroglancer_precomputed":
        # x, y, z and channel; chunks cover every channel.
        channels = draw(st.integers(1, max(1, min(3, max_size))))
        size = _shape(draw, 3, max_extent, max(1, max_size // channels))
        return _Shape(driver, dtype, size + [channels], [draw(st.integers(1, n)) for n in size])
    shape = _shape(draw, draw(st.integers(min_rank, max_rank)), max_extent, max_size)
    return _Shape(driver, dtype, shape, [draw(st.integers(1, max(1, n))) for n in shape])


@st.composite
def _chunked_spec(draw: Any, a: _Shape, fill_value: bool) -> dict:
    driver, dtype, shape, chunk = a.driver, a.dtype, a.shape, a.chunk
    rank = len(shape)
    schema: dict[str, Any] = {"dtype": dtype, "domain": {"shape": shape}}
    if rank and draw(st.booleans()):
        labels = [draw(st.sampled_from(("",) + LABELS)) for _ in range(rank)]
        schema["domain"]["labels"] = [lab if lab not in labels[:i] else "" for i, lab in enumerate(labels)]
    layout: dict[str, Any] = {}
    if draw(st.booleans()):
        layout = {"chunk": {"shape": chunk}}
    if rank > 1 and draw(st.booleans()):
        if driver == "zarr":
            layout["inner_order"] = list(range(rank))[:: draw(st.sampled_from([1, -1]))]
        elif driver == "zarr3":
            layout["inner_order"] = list(draw(st.permutations(range(rank))))
    # Drawn for every driver, so that all draw alike and an n5 example can shrink to zarr.
    with_fill = draw(st.booleans())
    if driver == "zarr":
        schema["codec"] = _zarr_codec(draw)
    elif driver == "zarr3":
        sharded = rank and draw(st.booleans())
        schema["codec"] = _zarr3_codec(draw, rank, chunk if sharded else None)
        if sharded:
            # The sharding codec names the inner chunk; the layout the shard, a multiple of it.
            layout = {"write_chunk": {"shape": [c * draw(st.integers(1, 3)) for c in chunk]}}
    else:
        schema["codec"] = _n5_codec(draw)
    if layout:
        schema["chunk_layout"] = layout
    # (A schema's JSON fill value cannot be complex, in TensorStore either.)
    if with_fill and fill_value and driver in ("zarr", "zarr3") and not dtype.startswith("complex"):
        schema["fill_value"] = draw(fill_values(dtype, allow_nan=False)).item()
    return {"driver": driver, "kvstore": _kvstore(draw), "schema": schema}


@st.composite
def _precomputed_spec(draw: Any, a: _Shape, lossy: bool) -> dict:
    size, channels, dtype = a.shape[:3], a.shape[3], a.dtype
    encoding = draw(st.sampled_from(_precomputed_encodings(dtype, channels, lossy)))
    scale: dict[str, Any] = {
        "size": size, "voxel_offset": [draw(st.integers(-3, 3)) for _ in range(3)], "chunk_size": a.chunk,
        "resolution": [1.0, 1.0, 1.0], "encoding": encoding,
    }
    if encoding == "compressed_segmentation":
        scale["compressed_segmentation_block_size"] = [draw(st.integers(1, 4)) for _ in range(3)]
    if encoding == "jpeg":
        scale["jpeg_quality"] = draw(st.integers(50, 100))
    if draw(st.integers(0, 3)) == 0:
        scale["sharding"] = {
            "@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": draw(st.integers(0, 2)),
            "hash": draw(st.sampled_from(["identity", "murmurhash3_x86_128"])),
            "minishard_bits": draw(st.integers(0, 2)), "shard_bits": draw(st.integers(0, 2)),
            "minishard_index_encoding": draw(st.sampled_from(["raw", "gzip"])),
            "data_encoding": draw(st.sampled_from(["raw", "gzip"])),
        }  # fmt: skip
    multiscale = {"type": "segmentation" if encoding == "compressed_segmentation" else "image",
                  "data_type": dtype, "num_channels": channels}  # fmt: skip
    return {"driver": "neuroglancer_precomputed", "kvstore": _kvstore(draw), "multiscale_metadata": multiscale,
            "scale_metadata": scale}  # fmt: skip


def _details(a: _Shape, fill_value: bool, lossy: bool) -> st.SearchStrategy[dict]:
    if a.driver == "neuroglancer_precomputed":
        return _precomputed_spec(a, lossy)
    return _chunked_spec(a, fill_value)


def _shape_strategy(drivers: Sequence[str] = DRIVERS, dtypes_allowed: Sequence[str] | None = None, min_rank: int = 0,
                    max_rank: int = 4, max_extent: int = 8, max_size: int = 64) -> st.SearchStrategy[_Shape]:  # fmt: skip
    return _array_shape(drivers, dtypes_allowed, min_rank, max_rank, max_extent, max_size)


@st.composite
def spec_json(
    draw: Any,
    *,
    drivers: Sequence[str] = DRIVERS,
    dtypes_allowed: Sequence[str] | None = None,
    min_rank: int = 0,
    max_rank: int = 4,
    max_extent: int = 8,
    max_size: int = 64,
    fill_value: bool = True,
    lossy: bool = False,
) -> dict:
    """The JSON of a Spec that `ts.open(..., create=True)` accepts on a fresh memory kvstore:
    driver, kvstore and metadata (through the schema, or the driver's own members for
    neuroglancer_precomputed, whose rank is always 4: x, y, z, channel).  Bounded by rank,
    extent and size (number of elements); `dtypes_allowed` limits the dtypes; `lossy`
    admits jpeg."""
    a = draw(_shape_strategy(drivers, dtypes_allowed, min_rank, max_rank, max_extent, max_size))
    return draw(_details(a, fill_value, lossy))


def specs(**bounds: Any) -> st.SearchStrategy[ts.Spec]:
    """`spec_json(**bounds)` as `ts.Spec` objects."""
    return spec_json(**bounds).map(ts.Spec)


def arrays_for(dtype: ts.dtype | str, shape: Sequence[int], *, allow_nan: bool = False) -> st.SearchStrategy[np.ndarray]:
    """A NumPy array of `dtype` and `shape` whose elements shrink towards 0."""
    from hypothesis.extra import numpy as hnp

    np_dtype = np.dtype(ts.dtype(dtype).numpy_dtype)
    if np_dtype.kind in "biufc" and np_dtype.type.__module__ == "numpy":
        elements = None
        if np_dtype.kind in "fc":
            elements = hnp.from_dtype(np_dtype, allow_nan=allow_nan, allow_infinity=False, allow_subnormal=False)
        return hnp.arrays(np_dtype, tuple(shape), elements=elements)
    size = int(np.prod(shape, dtype=np.int64))
    return st.lists(st.integers(-8, 8), min_size=size, max_size=size).map(
        lambda v: np.array(v, dtype=np.float32).astype(np_dtype).reshape(tuple(shape))
    )


@st.composite
def stores(
    draw: Any, *, context: ts.Context | None = None, fill_value: bool = True, lossy: bool = False, **bounds: Any
) -> tuple[ts.TensorStore, np.ndarray]:
    """``(store, array)``: a store created from a `spec_json(**bounds)` on a memory kvstore of
    its own context (or `context`), holding `array` (drawn; the whole domain written).
    Lossless codecs only, unless ``lossy=True`` (then the store holds what jpeg made of it)."""
    a = draw(_shape_strategy(**bounds))
    array = draw(arrays_for(a.dtype, a.shape))
    j = draw(_details(a, fill_value, lossy))
    store = ts.open(j, create=True, context=context if context is not None else ts.Context()).result()
    store.write(array).result()
    return store, array if not lossy else store.read().result()
