"""Property tests: random operation sequences against a dict model (tiny nodes, so splits,
merges and deep trees happen), and corrupt, truncated or random manifests and nodes, which
must raise a clear DATA_LOSS error (never another exception, a crash or a hang)."""

from __future__ import annotations

import os
import struct

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import tensorstore_py as ts
from tensorstore_py.errors import StatusError
from tensorstore_py.kvstore.ocdbt import codec

KEYS = st.text(alphabet="ab/c", min_size=0, max_size=6).map(str.encode)
VALUES = st.binary(min_size=0, max_size=40)
OPS = st.one_of(
    st.tuples(st.just("write"), KEYS, VALUES),
    st.tuples(st.just("delete"), KEYS),
    st.tuples(st.just("delete_range"), KEYS, KEYS),
    st.tuples(st.just("if_absent"), KEYS, VALUES),
    st.tuples(st.just("txn"), st.lists(st.tuples(KEYS, st.one_of(st.none(), VALUES)), max_size=6)),
    st.tuples(st.just("concurrent"), st.lists(st.tuples(KEYS, VALUES), max_size=8)),
)


@settings(max_examples=int(os.environ.get("TSPY_EXAMPLES", 40)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(OPS, min_size=1, max_size=25), st.sampled_from([60, 150, 100000]), st.sampled_from([1, 2, 4]))
# Every child of an interior root deleted at once, without reading any of them.
@example([("concurrent", [(b"", b""), (b"aaaaa", b""), (b"aaaaaa", b"\0" * 5), (b"aaaaa/", b"\0" * 3)]),
          ("delete_range", b"", b"")], 60, 1)
def test_operations_match_dict_model(ops, node_bytes, arity_log2):
    ctx = ts.Context()
    spec = {"driver": "ocdbt", "base": "memory://",
            "config": {"max_decoded_node_bytes": node_bytes, "max_inline_value_bytes": 8,
                       "version_tree_arity_log2": arity_log2}}
    kv = ts.KvStore.open(spec, context=ctx).result()
    model: dict[bytes, bytes] = {}
    snapshots = []
    for op in ops:
        kind = op[0]
        if kind == "write":
            kv[op[1]] = op[2]
            model[op[1]] = op[2]
        elif kind == "delete":
            del kv[op[1]]
            model.pop(op[1], None)
        elif kind == "delete_range":
            lo, hi = sorted((op[1], op[2]))
            kv.delete_range(ts.KvStore.KeyRange(lo, hi)).result()
            for k in [k for k in model if lo <= k and (not hi or k < hi)]:
                del model[k]
        elif kind == "if_absent":
            stamp = kv.write(op[1], op[2], if_equal=b"\x02").result()
            if op[1] in model:
                assert stamp.generation == b""
            else:
                assert stamp.generation != b""
                model[op[1]] = op[2]
        elif kind == "txn":
            with ts.Transaction(atomic=True) as txn:
                for key, value in op[1]:
                    kv.with_transaction(txn).write(key, value).result()
                    if value is None:
                        model.pop(key, None)
                    else:
                        model[key] = value
        else:
            for f in [kv.write(k, v) for k, v in op[1]]:
                f.result()
            for k, v in op[1]:
                model[k] = v
        state = kv.driver.db.manifest().result()
        if state.manifest is not None and state.manifest.versions is not None:
            latest = state.manifest.latest
            snapshots.append((latest.generation, dict(model)))
            # The statistics of the root agree with the content.
            assert latest.stats.num_keys == len(model)
            assert latest.stats.num_indirect_value_bytes == sum(len(v) for v in model.values() if len(v) > 8)
        assert kv.list().result() == sorted(model)
    for key, value in model.items():
        assert kv[key] == value
    for generation, want in snapshots[-3:]:
        old = ts.KvStore.open({**spec, "version": generation}, context=ctx).result()
        assert {k: old[k] for k in old.list().result()} == want


# ---------------------------------------------------------------------------------------------
# Corrupt input.


def _sample_database() -> dict[bytes, bytes]:
    ctx = ts.Context()
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://",
                          "config": {"max_decoded_node_bytes": 120, "max_inline_value_bytes": 6,
                                     "version_tree_arity_log2": 1}}, context=ctx).result()
    for i in range(6):
        with ts.Transaction() as txn:
            for j in range(8):
                kv.with_transaction(txn)[f"key{i}{j}"] = b"v" * (j * 3)
    memory = ts.KvStore.open("memory://", context=ctx).result()
    return {k: memory[k] for k in memory.list().result()}


SAMPLE = _sample_database()
MANIFEST = SAMPLE[b"manifest.ocdbt"]


def _reads_cleanly(files: dict[bytes, bytes]) -> None:
    ctx = ts.Context()
    memory = ts.KvStore.open("memory://", context=ctx).result()
    for k, v in files.items():
        memory[k] = v
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}, context=ctx).result()
    try:
        keys = kv.list().result(timeout=20)
        for key in keys[:5] + [b"key00", b"key57"]:
            kv.read(key).result(timeout=20)
        for generation in (2, 4, 7):
            old = ts.KvStore.open({"driver": "ocdbt", "base": "memory://", "version": generation}, context=ctx).result()
            old.list().result(timeout=20)
    except ValueError as exc:
        assert str(exc)


@settings(max_examples=int(os.environ.get("TSPY_EXAMPLES", 150)), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_corrupt_stored_files_raise_clear_errors(data):
    files = dict(SAMPLE)
    name = data.draw(st.sampled_from(sorted(files)))
    blob = bytearray(files[name])
    how = data.draw(st.sampled_from(["truncate", "flip", "random", "empty"]))
    if how == "truncate" and blob:
        del blob[data.draw(st.integers(0, len(blob) - 1)) :]
    elif how == "flip" and blob:
        i = data.draw(st.integers(0, len(blob) - 1))
        blob[i] ^= data.draw(st.integers(1, 255))
    elif how == "random":
        blob = bytearray(data.draw(st.binary(max_size=300)))
    else:
        blob = bytearray()
    files[name] = bytes(blob)
    _reads_cleanly(files)


def _reframe(magic: int, body: bytes) -> bytes:
    """`body` in a valid frame (correct length and checksum), uncompressed."""
    return codec._frame(magic, body, None)


def _body(encoded: bytes) -> bytes:
    return encoded[14:-4]  # magic, length, version 0, compression 0 ... checksum


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_corrupt_bodies_with_valid_checksums(data):
    """Past the checksum: mutated or random bodies reach the parsers themselves."""
    plain = codec.decode_manifest(MANIFEST)
    plain.config = codec.Config(plain.config.uuid, 0, 6, 120, 1, None)
    sources = [
        (codec.MANIFEST_MAGIC, _body(codec.encode_manifest(plain)), lambda b: codec.decode_manifest(b)),
    ]
    for ref_entry in plain.version_nodes:
        node = codec.decode_version_node(SAMPLE[ref_entry.ref.file.path][ref_entry.ref.offset : ref_entry.ref.offset + ref_entry.ref.length], b"", 1)
        sources.append((codec.VERSION_MAGIC, _body(codec.encode_version_node(node, None)),
                        lambda b: codec.decode_version_node(b, b"", 1)))
    root = plain.latest.root
    node = codec.decode_btree_node(SAMPLE[root.file.path][root.offset : root.offset + root.length], b"", 120)
    sources.append((codec.BTREE_MAGIC, _body(codec.encode_btree_node(node, None)),
                    lambda b: codec.decode_btree_node(b, b"", 120)))
    magic, body, decode = data.draw(st.sampled_from(sources))
    body = bytearray(body)
    for _ in range(data.draw(st.integers(1, 4))):
        how = data.draw(st.sampled_from(["flip", "truncate", "insert", "varint"]))
        if how == "flip" and body:
            i = data.draw(st.integers(0, len(body) - 1))
            body[i] ^= data.draw(st.integers(1, 255))
        elif how == "truncate" and body:
            del body[data.draw(st.integers(0, len(body) - 1)) :]
        elif how == "insert":
            i = data.draw(st.integers(0, len(body)))
            body[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        elif how == "varint" and body:
            i = data.draw(st.integers(0, len(body) - 1))
            body[i:i + 1] = b"\xff" * data.draw(st.integers(1, 11)) + b"\x01"
    try:
        decode(_reframe(magic, bytes(body)))
    except StatusError as exc:
        assert exc.code == "DATA_LOSS", exc


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([codec.MANIFEST_MAGIC, codec.VERSION_MAGIC, codec.BTREE_MAGIC]),
       st.booleans())
def test_random_bodies(body, magic, compressed):
    frame = bytearray(_reframe(magic, body))
    if compressed:
        frame[13] = 1
        struct.pack_into("<I", frame, len(frame) - 4, codec._crc32c.value(bytes(frame[:-4])))
    decoders = {
        codec.MANIFEST_MAGIC: lambda b: codec.decode_manifest(b),
        codec.VERSION_MAGIC: lambda b: codec.decode_version_node(b, b"", 4),
        codec.BTREE_MAGIC: lambda b: codec.decode_btree_node(b, b"", 1 << 20),
    }
    try:
        decoders[magic](bytes(frame))
    except StatusError as exc:
        assert exc.code == "DATA_LOSS"


def test_corrupt_manifest_message():
    ctx = ts.Context()
    memory = ts.KvStore.open("memory://", context=ctx).result()
    memory["manifest.ocdbt"] = MANIFEST[:-1] + bytes([MANIFEST[-1] ^ 1])
    kv = ts.KvStore.open({"driver": "ocdbt", "base": "memory://"}, context=ctx).result()
    try:
        kv.read("a").result()
    except ValueError as exc:
        assert str(exc).startswith("DATA_LOSS: Error decoding manifest") and "CRC-32C" in str(exc)
    else:
        raise AssertionError("a corrupt manifest was read")


def test_key_expansion_is_bounded():
    """A leaf of 200,000 entries, each key the previous one plus a byte: under a megabyte
    that would expand to over 200 GB of keys.  Refused before that is allocated."""
    from tensorstore_py.kvstore.ocdbt.codec import put_varint, put_varints

    n = 200_000
    body = bytearray([0])  # height 0
    put_varint(body, 0)  # no data files
    put_varint(body, n)
    put_varints(body, [1000 + i for i in range(n - 1)])  # each key extends the previous one
    put_varints(body, [1000] + [1] * (n - 1))
    body += b"k" * 1000 + bytes(range(256)) * (n // 256) + bytes(range(n % 256 - 1))
    put_varints(body, [0] * n)
    put_varints(body, [0] * n)
    try:
        codec.decode_btree_node(_reframe(codec.BTREE_MAGIC, bytes(body)), b"", 1 << 30)
    except StatusError as exc:
        assert exc.code == "DATA_LOSS"
        assert "expand to more than" in exc.message
    else:
        raise AssertionError("the node was decoded")
