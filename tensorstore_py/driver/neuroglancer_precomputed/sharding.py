"""The `neuroglancer_uint64_sharded_v1` format: sharding spec, hashing and shard file layout.

A chunk id (uint64) is shifted right by `preshift_bits`, hashed, and split into a minishard
number (low `minishard_bits`) and a shard number (next `shard_bits`).  A shard file holds a
fixed-size shard index (one [start, end) pair of little-endian uint64 per minishard, offsets
counted from the end of the index), then, per non-empty minishard, the data of its chunks
followed by its minishard index: three delta-encoded uint64 arrays (chunk ids, offsets, sizes).
Both the minishard indices and the chunk data may be gzip-compressed.
"""

from __future__ import annotations

import dataclasses
import gzip
import struct
import zlib
from typing import Any, Iterable

import numpy as np

from ...errors import data_loss, invalid_argument
from ...json_util import ObjectReader, dumps, expect_int, member_error

__all__ = [
    "ShardingSpec", "parse_sharding", "murmurhash3_x86_128_lo64", "encode_shard", "decode_shard_index",
    "decode_minishard_index", "shard_key", "compressed_z_index_bits", "encode_compressed_z_index",
    "decode_compressed_z_index",
]  # fmt: skip

_TYPE = "neuroglancer_uint64_sharded_v1"
_HASHES = ("identity", "murmurhash3_x86_128")
_ENCODINGS = ("raw", "gzip")
_MASK64 = (1 << 64) - 1


def need(r: ObjectReader, name: str, parse, missing: str) -> Any:
    """A required member; `missing` is the reference's message for its absence."""
    if not r.has(name):
        r.skip(name)
        raise member_error(name, invalid_argument(missing))
    return r.get(name, parse)


def missing_int(lo: int, hi: int) -> str:
    return f"Expected integer in the range [{lo}, {hi}], but received: <discarded>"


def missing_enum(values: tuple[str, ...]) -> str:
    return f"Expected one of {', '.join(dumps(v) for v in values)}, but received: <discarded>"


def _one_of(values: tuple[str, ...]):
    def parse(j: Any) -> str:
        if not isinstance(j, str) or j not in values:
            choices = ", ".join(dumps(v) for v in values)
            raise invalid_argument(f"Expected one of {choices}, but received: {dumps(j)}")
        return j

    return parse


@dataclasses.dataclass(frozen=True)
class ShardingSpec:
    """A parsed `neuroglancer_uint64_sharded_v1` sharding spec."""

    preshift_bits: int
    hash: str
    minishard_bits: int
    shard_bits: int
    minishard_index_encoding: str = "raw"
    data_encoding: str = "raw"

    @property
    def num_minishards(self) -> int:
        return 1 << self.minishard_bits

    def to_json(self) -> dict:
        return {
            "@type": _TYPE,
            "data_encoding": self.data_encoding,
            "hash": self.hash,
            "minishard_bits": self.minishard_bits,
            "minishard_index_encoding": self.minishard_index_encoding,
            "preshift_bits": self.preshift_bits,
            "shard_bits": self.shard_bits,
        }

    def hash_key(self, chunk_id: int) -> int:
        shifted = chunk_id >> self.preshift_bits
        if self.hash == "identity":
            return shifted
        return murmurhash3_x86_128_lo64(shifted)

    def locate(self, chunk_id: int) -> tuple[int, int]:
        """(shard, minishard) holding `chunk_id`."""
        h = self.hash_key(chunk_id)
        minishard = h & ((1 << self.minishard_bits) - 1)
        shard = (h >> self.minishard_bits) & ((1 << self.shard_bits) - 1)
        return shard, minishard


def parse_sharding(j: Any) -> ShardingSpec:
    """A sharding spec from its JSON (errors name the member)."""
    r = ObjectReader(j)

    def type_id(v: Any) -> str:
        if v != _TYPE:
            raise invalid_argument(f"Expected {dumps(_TYPE)}, but received: {dumps(v)}")
        return v

    need(r, "@type", type_id, f"Expected {dumps(_TYPE)}, but received: <discarded>")
    preshift = need(r, "preshift_bits", lambda v: expect_int(v, 0, 64), missing_int(0, 64))
    hash_name = need(r, "hash", _one_of(_HASHES), missing_enum(_HASHES))
    minishard = need(r, "minishard_bits", lambda v: expect_int(v, 0, 32), missing_int(0, 32))
    shard = need(r, "shard_bits", lambda v: expect_int(v, 0, 64 - minishard), missing_int(0, 64 - minishard))
    mi_encoding = r.get("minishard_index_encoding", _one_of(_ENCODINGS), "raw")
    data_encoding = r.get("data_encoding", _one_of(_ENCODINGS), "raw")
    r.finish()
    return ShardingSpec(preshift, hash_name, minishard, shard, mi_encoding, data_encoding)


# ---------------------------------------------------------------------------------------------
# MurmurHash3_x86_128 of one little-endian uint64 with seed 0, low 64 bits of the result.


def _rotl32(x: int, r: int) -> int:
    return ((x << r) | (x >> (32 - r))) & 0xFFFFFFFF


def _fmix32(h: int) -> int:
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def murmurhash3_x86_128_lo64(key: int) -> int:
    """The hash Neuroglancer applies to (shifted) chunk ids: an 8-byte key is a 'tail' only."""
    c1, c2, c3 = 0x239B961B, 0xAB0E9789, 0x38B34AE5
    h1 = h2 = h3 = h4 = 0
    k1 = key & 0xFFFFFFFF
    k2 = (key >> 32) & 0xFFFFFFFF
    # Tail bytes 4..7 feed k2, bytes 0..3 feed k1 (no full 16-byte block in 8 bytes).
    k2 = (k2 * c2) & 0xFFFFFFFF
    k2 = _rotl32(k2, 16)
    k2 = (k2 * c3) & 0xFFFFFFFF
    h2 ^= k2
    k1 = (k1 * c1) & 0xFFFFFFFF
    k1 = _rotl32(k1, 15)
    k1 = (k1 * c2) & 0xFFFFFFFF
    h1 ^= k1
    length = 8
    h1 ^= length
    h2 ^= length
    h3 ^= length
    h4 ^= length
    h1 = (h1 + h2 + h3 + h4) & 0xFFFFFFFF
    h2 = (h2 + h1) & 0xFFFFFFFF
    h3 = (h3 + h1) & 0xFFFFFFFF
    h4 = (h4 + h1) & 0xFFFFFFFF
    h1, h2, h3, h4 = _fmix32(h1), _fmix32(h2), _fmix32(h3), _fmix32(h4)
    h1 = (h1 + h2 + h3 + h4) & 0xFFFFFFFF
    h2 = (h2 + h1) & 0xFFFFFFFF
    return h1 | (h2 << 32)


# ---------------------------------------------------------------------------------------------
# Compressed Morton (z-order) chunk ids.


def compressed_z_index_bits(shape: Iterable[int], chunk_size: Iterable[int]) -> list[int]:
    """Bits per dimension of a chunk's grid coordinate in the compressed Morton code."""
    return [max(0, -(-s // c) - 1).bit_length() for s, c in zip(shape, chunk_size)]


def encode_compressed_z_index(cell: Iterable[int], bits: list[int]) -> int:
    """Interleaves the grid coordinates' bits, skipping dimensions whose bits ran out."""
    cell = list(cell)
    out = 0
    out_bit = 0
    for bit in range(max(bits) if bits else 0):
        for i in range(3):
            if bit < bits[i]:
                out |= ((cell[i] >> bit) & 1) << out_bit
                out_bit += 1
    return out


def decode_compressed_z_index(z: int, bits: list[int]) -> tuple[int, int, int]:
    cell = [0, 0, 0]
    in_bit = 0
    for bit in range(max(bits) if bits else 0):
        for i in range(3):
            if bit < bits[i]:
                cell[i] |= ((z >> in_bit) & 1) << bit
                in_bit += 1
    return cell[0], cell[1], cell[2]


def shard_shape_in_chunks(spec: ShardingSpec, volume_shape, chunk_shape) -> list[int] | None:
    """Chunks per dimension one shard covers, or None when shards are not rectangular."""
    if spec.hash != "identity":
        return None
    bits = compressed_z_index_bits(volume_shape, chunk_shape)
    total = sum(bits)
    if total > spec.preshift_bits + spec.minishard_bits + spec.shard_bits:
        return None
    grid = [-(-s // c) for s, c in zip(volume_shape, chunk_shape)]
    non_shard = min(spec.preshift_bits + spec.minishard_bits, total)
    used = [0, 0, 0]
    dim = 0
    for _ in range(non_shard):
        while used[dim] == bits[dim]:
            dim = (dim + 1) % 3
        used[dim] += 1
        dim = (dim + 1) % 3
    return [min(g, 1 << u) for g, u in zip(grid, used)]


# ---------------------------------------------------------------------------------------------
# Shard files.


def shard_key(spec: ShardingSpec, shard: int) -> str:
    """File name of a shard: lowercase hex, zero-padded to ceil(shard_bits / 4) digits."""
    return format(shard, "x").rjust((spec.shard_bits + 3) // 4, "0") + ".shard"


def _encode_data(encoding: str, data: bytes) -> bytes:
    if encoding == "gzip":
        # zlib's own gzip wrapper at level 9, as TensorStore writes it.
        c = zlib.compressobj(9, zlib.DEFLATED, 31)
        return c.compress(data) + c.flush()
    return data


def _decode_data(encoding: str, data: bytes, what: str) -> bytes:
    if encoding != "gzip":
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise data_loss(f"Error decoding {what}: {exc}") from None


def encode_shard(spec: ShardingSpec, chunks: dict[int, bytes]) -> bytes | None:
    """A whole shard file holding `chunks` (chunk id -> encoded chunk); None if empty.

    Minishards are laid out in increasing order, each as its chunks' data (by increasing id)
    followed by its minishard index, as TensorStore writes them.
    """
    if not chunks:
        return None
    by_minishard: dict[int, list[int]] = {}
    for chunk_id in chunks:
        by_minishard.setdefault(spec.locate(chunk_id)[1], []).append(chunk_id)
    index = np.zeros((spec.num_minishards, 2), dtype="<u8")
    body: list[bytes] = []
    pos = 0
    for minishard in range(spec.num_minishards):
        ids = sorted(by_minishard.get(minishard, ()))
        if not ids:
            continue  # an empty minishard's index entry stays [0, 0), as TensorStore writes it
        starts, sizes = [], []
        for chunk_id in ids:
            data = _encode_data(spec.data_encoding, chunks[chunk_id])
            starts.append(pos)
            sizes.append(len(data))
            body.append(data)
            pos += len(data)
        table = np.empty((3, len(ids)), dtype="<u8")
        id_arr = np.array(ids, dtype=np.uint64)
        table[0, 0] = id_arr[0]
        table[0, 1:] = np.diff(id_arr)
        start_arr = np.array(starts, dtype=np.uint64)
        size_arr = np.array(sizes, dtype=np.uint64)
        table[1, 0] = start_arr[0]
        table[1, 1:] = start_arr[1:] - (start_arr[:-1] + size_arr[:-1])
        table[2] = size_arr
        encoded_index = _encode_data(spec.minishard_index_encoding, table.tobytes())
        index[minishard] = (pos, pos + len(encoded_index))
        body.append(encoded_index)
        pos += len(encoded_index)
    return index.tobytes() + b"".join(body)


def decode_shard_index(spec: ShardingSpec, data: bytes) -> np.ndarray:
    """The (num_minishards, 2) [start, end) table at the start of a shard file."""
    size = 16 * spec.num_minishards
    if len(data) < size:
        raise data_loss(f"Existing shard has size {len(data)}, but expected at least: {size}")
    table = np.frombuffer(data, dtype="<u8", count=2 * spec.num_minishards).reshape(-1, 2)
    bad = np.nonzero(table[:, 0] > table[:, 1])[0]
    if bad.size:
        m = int(bad[0])
        raise data_loss(
            f"Shard index specified invalid byte range [{int(table[m, 0])}, {int(table[m, 1])}) for minishard {m}"
        )
    return table


def decode_minishard_index(spec: ShardingSpec, data: bytes) -> dict[int, tuple[int, int]]:
    """chunk id -> (start, end) within the shard's data region, from an encoded minishard index."""
    raw = _decode_data(spec.minishard_index_encoding, data, "minishard index")
    if len(raw) % 24:
        raise data_loss(f"Invalid minishard index length: {len(raw)}")
    n = len(raw) // 24
    table = np.frombuffer(raw, dtype="<u8").reshape(3, n)
    out: dict[int, tuple[int, int]] = {}
    chunk_id = 0
    pos = 0
    for i in range(n):
        chunk_id = (chunk_id + int(table[0, i])) & _MASK64
        start = pos + int(table[1, i])
        end = start + int(table[2, i])
        if end > _MASK64:
            raise data_loss(f"Invalid byte range in minishard index for chunk {chunk_id}")
        out[chunk_id] = (start, end)
        pos = end
    return out


def decode_shard(spec: ShardingSpec, data: bytes) -> dict[int, bytes]:
    """Every chunk of a shard file (decoded from `data_encoding`)."""
    index = decode_shard_index(spec, data)
    base = 16 * spec.num_minishards
    chunks: dict[int, bytes] = {}
    for m in range(spec.num_minishards):
        start, end = int(index[m, 0]), int(index[m, 1])
        if start == end:
            continue
        if base + end > len(data):
            raise data_loss(f"Shard index specified byte range [{start}, {end}) past the end of the shard for minishard {m}")
        entries = decode_minishard_index(spec, data[base + start : base + end])
        for chunk_id, (cs, ce) in entries.items():
            if base + ce > len(data):
                raise data_loss(f"Minishard index specified byte range [{cs}, {ce}) past the end of the shard for chunk {chunk_id}")
            chunks[chunk_id] = _decode_data(spec.data_encoding, data[base + cs : base + ce], f"chunk {chunk_id}")
    return chunks


def chunk_id_key(chunk_id: int) -> bytes:
    """Key the sharded kvstore uses for a chunk: its id as 8 big-endian bytes."""
    return struct.pack(">Q", chunk_id)


def key_chunk_id(key: bytes) -> int:
    if len(key) != 8:
        raise invalid_argument(f"Invalid key: {dumps(key.hex())}")
    return struct.unpack(">Q", key)[0]
