"""Open modes, assume_metadata, resize, URLs, auto-detection and schema/units of zarr3 arrays,
compared with tensorstore 0.1.86."""

from __future__ import annotations

import json

import numpy as np
import pytest

import tensorstore_py as ts
from zarr3_helpers import outcome, ref, same

MEM = {"driver": "zarr3", "kvstore": "memory://a/"}


def _create(lib, ctx, **kw):
    args = dict(dtype="uint16", shape=[10, 12])
    args.update(kw)
    return lib.open(MEM, create=True, context=ctx, **args).result()


OPEN_CASES = {
    "open missing": lambda lib, ctx: lib.open(MEM, context=ctx).result(),
    "create twice": lambda lib, ctx: (_create(lib, ctx), _create(lib, ctx)),
    "open or create existing": lambda lib, ctx: (_create(lib, ctx), lib.open(MEM, create=True, open=True, context=ctx, dtype="uint16", shape=[10, 12]).result().domain)[1].__str__(),
    "delete existing": lambda lib, ctx: (_create(lib, ctx), lib.open(MEM, create=True, delete_existing=True, context=ctx, dtype="int8", shape=[3]).result().spec().to_json())[1],
    "dtype mismatch": lambda lib, ctx: (_create(lib, ctx), lib.open(MEM, context=ctx, dtype="int8").result())[1],
    "rank mismatch": lambda lib, ctx: (_create(lib, ctx), lib.open(MEM, context=ctx, rank=3).result())[1],
    "shape mismatch": lambda lib, ctx: (_create(lib, ctx), lib.open(MEM, context=ctx, shape=[10, 13]).result())[1],
    "fill mismatch": lambda lib, ctx: (_create(lib, ctx), lib.open(MEM, context=ctx, fill_value=3).result())[1],
    "metadata mismatch": lambda lib, ctx: (_create(lib, ctx), lib.open({**MEM, "metadata": {"data_type": "int8"}}, context=ctx).result())[1],
    "assume metadata": lambda lib, ctx: json.dumps(lib.open(MEM, open=True, assume_metadata=True, context=ctx, dtype="uint16", shape=[4, 4]).result().spec().to_json(), sort_keys=True),
    "assume cached metadata": lambda lib, ctx: json.dumps(lib.open(MEM, open=True, assume_cached_metadata=True, context=ctx, dtype="uint16", shape=[4, 4]).result().spec().to_json(), sort_keys=True),
    "assume metadata no write": lambda lib, ctx: (lib.open(MEM, open=True, assume_metadata=True, context=ctx, dtype="uint16", shape=[4, 4]).result(),
                                                  sorted(lib.KvStore.open("memory://", context=ctx).result().list().result()))[1],
}


@pytest.mark.parametrize("name", sorted(OPEN_CASES))
def test_open_modes(name):
    same(lambda lib: OPEN_CASES[name](lib, lib.Context()))


def test_url_and_auto_detection():
    def run(lib):
        ctx = lib.Context()
        store = _create(lib, ctx, chunk_layout=lib.ChunkLayout(read_chunk_shape=[2, 3], write_chunk_shape=[4, 6]))
        store[1:3, 2:5] = 7
        by_url = lib.open("memory://a/|zarr3:", context=ctx).result()
        auto = lib.open("memory://a/", context=ctx).result()
        return store.url, by_url.read().result().tolist(), json.dumps(auto.spec().to_json(), sort_keys=True)

    same(run)


def test_group_is_not_an_array():
    def run(lib):
        ctx = lib.Context()
        kv = lib.KvStore.open("memory://", context=ctx).result()
        kv.write("g/zarr.json", json.dumps({"zarr_format": 3, "node_type": "group"})).result()
        return lib.open("memory://g/", context=ctx).result()

    # The auto driver's spec payload lists every context resource the reference knows: compare
    # the error itself.
    theirs, ours = outcome(ref, run), outcome(ts, run)
    assert ours[:2] == theirs[:2] and ours[0] == "ValueError"


@pytest.mark.parametrize("sharded", [False, True])
def test_resize(sharded):
    def run(lib):
        ctx = lib.Context()
        layout = lib.ChunkLayout(read_chunk_shape=[2, 3], write_chunk_shape=[4, 6]) if sharded else lib.ChunkLayout(chunk_shape=[4, 6])
        store = _create(lib, ctx, chunk_layout=layout)
        store[...] = np.arange(120, dtype=np.uint16).reshape(10, 12)
        smaller = store.resize(exclusive_max=[5, 7]).result()
        larger = smaller.resize(exclusive_max=[9, 13]).result()
        keys = sorted(lib.KvStore.open("memory://", context=ctx).result().list().result())
        return str(larger.domain), larger.read().result().tolist(), keys, _create_json(lib, ctx)

    same(run)


def _create_json(lib, ctx):
    return lib.KvStore.open("memory://a/", context=ctx).result().read("zarr.json").result().value


def test_dimension_units_and_schema():
    def run(lib):
        ctx = lib.Context()
        store = _create(lib, ctx, dimension_units=["4nm", None], fill_value=3,
                        domain=lib.IndexDomain(shape=[10, 12], labels=["x", "y"]))
        del_shape = None
        reopened = lib.open(MEM, context=ctx).result()
        return (repr(reopened.schema), repr(reopened.dimension_units), repr(store.fill_value), del_shape,
                repr(reopened[1:3].schema))

    same(run)


def test_view_writes_through_transform():
    def run(lib):
        ctx = lib.Context()
        store = _create(lib, ctx, chunk_layout=lib.ChunkLayout(read_chunk_shape=[2, 3], write_chunk_shape=[4, 6]))
        view = store[lib.d[0].translate_by[5]][6:12:2, ::3]
        view[...] = np.arange(12, dtype=np.uint16).reshape(3, 4) + 1
        return store.read().result().tolist(), store.vindex[[1, 3, 5], [0, 3, 9]].read().result().tolist()

    same(run)
