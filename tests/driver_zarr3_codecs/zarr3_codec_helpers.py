"""Asking the reference TensorStore about zarr3 ``codecs`` lists, and ours the same questions.

Every helper answers ``("ok", codecs json)`` or ``("err", message)`` with the message reduced
to the part the codec layer owns (driver prefixes and the ``[tensorstore_spec=...]`` payload
removed), so the two libraries' answers compare with ``==``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import tensorstore as ref

from tensorstore_py.driver.zarr3.codec_json import (
    fill_zarr3_defaults, parse_zarr3_codecs, resolve_zarr3_codecs, zarr3_codecs_json,
)  # fmt: skip

PARSE_PREFIX = 'Error parsing object member "metadata": Error parsing object member "codecs": '
CREATE_PREFIX = ('Error opening "zarr3" driver: Error writing "zarr.json": Cannot create using '
                 'specified "metadata" and schema: ')
READ_PREFIX = 'FAILED_PRECONDITION: Error opening "zarr3" driver: Error reading "zarr.json": '
CODECS_MEMBER = 'Error parsing object member "codecs": '

FILL = {"bool": False, "complex64": [0, 0], "complex128": [0, 0]}


def _strip(msg: str, *prefixes: str) -> str:
    msg = msg.split(" [tensorstore_spec=")[0]
    for p in prefixes:
        if msg.startswith(p):
            msg = msg[len(p):]
    return msg


def metadata(codecs: Any, dtype: str, shape: list[int], chunk: list[int]) -> dict:
    return {"zarr_format": 3, "node_type": "array", "shape": shape, "data_type": dtype,
            "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunk}},
            "chunk_key_encoding": {"name": "default"}, "fill_value": FILL.get(dtype, 0),
            "codecs": codecs}


def ref_create(codecs: Any, dtype: str = "uint16", chunk: list[int] = (4, 4)) -> tuple:
    """What TensorStore makes of `codecs` when creating an array (spec and zarr.json forms)."""
    chunk = list(chunk)
    try:
        store = ref.open({"driver": "zarr3", "kvstore": {"driver": "memory"},
                          "metadata": metadata(codecs, dtype, [2 * c for c in chunk], chunk)},
                         create=True).result()
    except ValueError as exc:
        return ("err", _strip(str(exc), PARSE_PREFIX, CREATE_PREFIX))
    stored = json.loads(store.kvstore.read("zarr.json").result().value)["codecs"]
    return ("ok", store.spec().to_json()["metadata"]["codecs"], stored)


def ours_create(codecs: Any, dtype: str = "uint16", chunk: list[int] = (4, 4)) -> tuple:
    try:
        chain = parse_zarr3_codecs(codecs, constraint=True)
        resolved = resolve_zarr3_codecs(fill_zarr3_defaults(chain), list(chunk),
                                        _numpy_dtype(dtype))
    except ValueError as exc:
        return ("err", str(exc))
    return ("ok", zarr3_codecs_json(resolved), zarr3_codecs_json(resolved, stored=True))


def ref_open(codecs: Any, dtype: str = "uint16", chunk: list[int] = (4, 4)) -> tuple:
    """What TensorStore makes of `codecs` found in a stored zarr.json."""
    chunk = list(chunk)
    ctx = ref.Context()
    kv = ref.KvStore.open({"driver": "memory"}, context=ctx).result()
    kv.write("zarr.json", json.dumps(metadata(codecs, dtype, [2 * c for c in chunk], chunk))
             ).result()
    try:
        store = ref.open({"driver": "zarr3", "kvstore": {"driver": "memory"}},
                         context=ctx).result()
    except ValueError as exc:
        return ("err", _strip(str(exc), READ_PREFIX, CODECS_MEMBER))
    return ("ok", store.spec().to_json()["metadata"]["codecs"])


def ours_open(codecs: Any, dtype: str = "uint16", chunk: list[int] = (4, 4)) -> tuple:
    try:
        chain = parse_zarr3_codecs(codecs)
        resolve_zarr3_codecs(chain, list(chunk), _numpy_dtype(dtype), strict=True)
    except ValueError as exc:
        return ("err", str(exc).removeprefix("FAILED_PRECONDITION: "))
    return ("ok", zarr3_codecs_json(chain))


def ref_codec_spec(codecs: Any) -> tuple:
    try:
        return ("ok", ref.CodecSpec({"driver": "zarr3", "codecs": codecs}).to_json()["codecs"])
    except ValueError as exc:
        return ("err", _strip(str(exc), CODECS_MEMBER))


def ours_codec_spec(codecs: Any) -> tuple:
    try:
        return ("ok", zarr3_codecs_json(parse_zarr3_codecs(codecs, constraint=True)))
    except ValueError as exc:
        return ("err", str(exc))


def _numpy_dtype(name: str) -> np.dtype:
    from tensorstore_py import dtypes

    return dtypes.get(name).numpy_dtype
