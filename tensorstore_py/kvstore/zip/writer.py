"""Writing zip archives: the decoded form of a whole archive that staged member writes change.

A write to a member is a mutation of the archive value (through the project's one
read-modify-write, `cache.staging`): the archive is decoded into its members with their
compressed bytes untouched, the mutation replaces or removes members, and the archive is
encoded again — local headers, data, central directory, end record, with ZIP64 records
wherever a count, size or offset needs them.  Members other than the written ones are copied
without being decompressed.
"""

from __future__ import annotations

import dataclasses
import struct
import time
import zlib

from ...errors import invalid_argument
from .directory import (
    CENTRAL_SIG, EOCD_SIG, LOCAL_HEADER_SIZE, TAIL_SIZE, ZIP64_EOCD_SIG, ZIP64_EOCD_SIZE, ZIP64_LOCATOR_SIG,
    find_end_record, local_data_offset, parse_central_directory, parse_zip64_end_record,
)  # fmt: skip

__all__ = ["Member", "ArchiveForm", "new_member"]

_U16, _U32 = 0xFFFF, 0xFFFFFFFF
#: zip compression method numbers of the `compression` spec member
METHODS = {"store": 0, "deflate": 8, "zstd": 93, "xz": 95}
_UTF8_FLAG = 0x800


@dataclasses.dataclass(frozen=True)
class Member:
    """One member: its header fields and its (still compressed) data."""

    name: bytes
    method: int
    crc32: int
    uncompressed_size: int
    data: bytes
    dos_time: int
    dos_date: int
    flags: int = 0


def _dos_now() -> tuple[int, int]:
    t = time.localtime()
    dos_time = (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2)
    dos_date = (max(t.tm_year - 1980, 0) << 9) | (t.tm_mon << 5) | t.tm_mday
    return dos_time, dos_date


def new_member(name: bytes, value: bytes, compression: str) -> Member:
    """A member holding `value`, compressed as the spec's `compression` says."""
    from ...codecs.deflate import RawDeflateCodec
    from ...codecs.simple import XzCodec, ZstdCodec

    method = METHODS[compression]
    if method == 0:
        data = bytes(value)
    elif method == 8:
        data = RawDeflateCodec().encode(value)
    elif method == 93:
        data = ZstdCodec().encode(value)
    else:
        data = XzCodec().encode(value)
    try:
        name.decode("ascii")
        flags = 0
    except UnicodeDecodeError:
        flags = _UTF8_FLAG
    dos_time, dos_date = _dos_now()
    return Member(name, method, zlib.crc32(value), len(value), data, dos_time, dos_date, flags)


class ArchiveForm:
    """``decode(archive bytes | None) -> {name: Member}`` and ``encode`` back (the decoded
    form staged mutations of the archive share, so a run of them decodes once)."""

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ArchiveForm)

    def __hash__(self) -> int:
        return hash(ArchiveForm)

    @staticmethod
    def decode(value: bytes | None) -> dict[bytes, Member]:
        if value is None:
            return {}
        end = find_end_record(value[-TAIL_SIZE:] if len(value) > TAIL_SIZE else value)
        if end.zip64_offset is not None:
            end = parse_zip64_end_record(value[end.zip64_offset : end.zip64_offset + ZIP64_EOCD_SIZE], end)
        directory = value[end.cd_offset : end.cd_offset + end.cd_size]
        members: dict[bytes, Member] = {}
        for e in parse_central_directory(directory, end.entries, end.cd_offset):
            if e.is_directory:
                continue
            if e.encrypted:
                raise invalid_argument(f"Cannot rewrite encrypted ZIP entry {e.name!r}")
            start = e.local_offset + local_data_offset(value[e.local_offset : e.local_offset + LOCAL_HEADER_SIZE], e)
            data = value[start : start + e.compressed_size]
            if len(data) != e.compressed_size:
                raise invalid_argument(f"ZIP entry {e.name!r} extends past the end of the archive")
            # The data descriptor flag is dropped: sizes and CRC go into the rewritten headers.
            members[e.name] = Member(e.name, e.method, e.crc32, e.uncompressed_size, data, e.dos_time, e.dos_date,
                                     e.flags & _UTF8_FLAG)  # fmt: skip
        return members

    @staticmethod
    def encode(members: dict[bytes, Member]) -> bytes:
        out = bytearray()
        central = bytearray()
        for m in members.values():
            offset = len(out)
            csize, usize = len(m.data), m.uncompressed_size
            big = csize >= _U32 or usize >= _U32
            local_extra = struct.pack("<HHQQ", 1, 16, usize, csize) if big else b""
            version = 45 if big else 20
            out += struct.pack(
                "<IHHHHHIIIHH", 0x04034B50, version, m.flags, m.method, m.dos_time, m.dos_date, m.crc32,
                _U32 if big else csize, _U32 if big else usize, len(m.name), len(local_extra),
            )  # fmt: skip
            out += m.name + local_extra + m.data
            fields = []
            if usize >= _U32:
                fields.append(usize)
            if csize >= _U32:
                fields.append(csize)
            if offset >= _U32:
                fields.append(offset)
            extra = struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b""
            central += CENTRAL_SIG + struct.pack(
                "<HHHHHHIIIHHHHHII", 45 if fields else 20, 45 if fields else 20, m.flags, m.method, m.dos_time,
                m.dos_date, m.crc32, _U32 if csize >= _U32 else csize, _U32 if usize >= _U32 else usize,
                len(m.name), len(extra), 0, 0, 0, 0, _U32 if offset >= _U32 else offset,
            )  # fmt: skip
            central += m.name + extra
        cd_offset, cd_size, count = len(out), len(central), len(members)
        out += central
        if count >= _U16 or cd_offset >= _U32 or cd_size >= _U32:
            record_at = len(out)
            out += ZIP64_EOCD_SIG + struct.pack("<QHHIIQQQQ", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset)
            out += ZIP64_LOCATOR_SIG + struct.pack("<IQI", 0, record_at, 1)
        out += EOCD_SIG + struct.pack(
            "<HHHHIIH", 0, 0, min(count, _U16), min(count, _U16), min(cd_size, _U32), min(cd_offset, _U32), 0
        )
        return bytes(out)
