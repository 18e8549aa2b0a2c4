"""The zip file format, as far as a reader needs it: end-of-central-directory records (ZIP64
included), central directory entries and local file headers (PKWARE APPNOTE 6.3).

Pure functions over bytes.  Every length and offset read from the archive is checked against
the bytes actually present, so malformed input raises a `StatusError`, never an IndexError or
a huge allocation.
"""

from __future__ import annotations

import dataclasses
import struct

from ...errors import data_loss, invalid_argument

__all__ = [
    "TAIL_SIZE", "LOCAL_HEADER_SIZE", "Entry", "EndRecord", "find_end_record", "parse_zip64_end_record",
    "parse_central_directory", "local_data_offset",
]  # fmt: skip

EOCD_SIG = b"PK\x05\x06"
ZIP64_LOCATOR_SIG = b"PK\x06\x07"
ZIP64_EOCD_SIG = b"PK\x06\x06"
CENTRAL_SIG = b"PK\x01\x02"
LOCAL_SIG = b"PK\x03\x04"

EOCD_SIZE = 22
ZIP64_LOCATOR_SIZE = 20
ZIP64_EOCD_SIZE = 56
CENTRAL_SIZE = 46
LOCAL_HEADER_SIZE = 30
#: the most bytes at the end of an archive that can hold the EOCD (with the longest comment)
#: and the ZIP64 locator before it
TAIL_SIZE = EOCD_SIZE + 0xFFFF + ZIP64_LOCATOR_SIZE

_U16, _U32 = 0xFFFF, 0xFFFFFFFF


@dataclasses.dataclass(frozen=True)
class Entry:
    """One central directory entry."""

    name: bytes
    flags: int
    method: int
    crc32: int
    compressed_size: int
    uncompressed_size: int
    local_offset: int
    #: length of the entry's extra field in the central directory (usually also the local one)
    extra_length: int
    dos_time: int = 0
    dos_date: int = 0

    @property
    def is_directory(self) -> bool:
        return self.name.endswith(b"/")

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & 1)


@dataclasses.dataclass(frozen=True)
class EndRecord:
    """Where the central directory is: from the EOCD, or the ZIP64 EOCD it points to."""

    #: position of the EOCD within the tail it was found in
    position: int
    entries: int
    cd_size: int
    cd_offset: int
    #: absolute offset of the ZIP64 EOCD record (None: not a ZIP64 archive)
    zip64_offset: int | None


def find_end_record(tail: bytes) -> EndRecord:
    """The end-of-central-directory record in the last bytes of an archive."""
    pos = len(tail) - EOCD_SIZE
    while pos >= 0:
        pos = tail.rfind(EOCD_SIG, 0, pos + 4)
        if pos < 0:
            break
        comment_length = struct.unpack_from("<H", tail, pos + 20)[0]
        if pos + EOCD_SIZE + comment_length <= len(tail):
            break
        pos -= 1
    if pos < 0:
        if tail.rfind(EOCD_SIG, max(0, len(tail) - EOCD_SIZE + 1)) >= 0:
            raise invalid_argument("ZIP EOCD Entry insufficient data available")
        raise invalid_argument("Failed to find valid ZIP EOCD")
    disk, cd_disk, _disk_entries, entries, cd_size, cd_offset = struct.unpack_from("<HHHHII", tail, pos + 4)
    if disk not in (0, _U16) or cd_disk not in (0, _U16):
        raise data_loss("ZIP archives spanning several disks are not supported")
    zip64_offset = None
    locator = pos - ZIP64_LOCATOR_SIZE
    if locator >= 0 and tail[locator : locator + 4] == ZIP64_LOCATOR_SIG:
        zip64_offset = struct.unpack_from("<Q", tail, locator + 8)[0]
    elif entries == _U16 or cd_size == _U32 or cd_offset == _U32:
        raise data_loss("ZIP EOCD requires a ZIP64 locator, which is missing")
    return EndRecord(pos, entries, cd_size, cd_offset, zip64_offset)


def parse_zip64_end_record(data: bytes, end: EndRecord) -> EndRecord:
    """`end` with the counts and offsets of the ZIP64 EOCD record `data` (at least 56 bytes)."""
    if len(data) < ZIP64_EOCD_SIZE or data[:4] != ZIP64_EOCD_SIG:
        raise data_loss("ZIP64 EOCD record not found where its locator points")
    _sig, _size, _made, _need, disk, cd_disk, _disk_entries, entries, cd_size, cd_offset = struct.unpack_from(
        "<IQHHIIQQQQ", data, 0
    )
    if disk != 0 or cd_disk != 0:
        raise data_loss("ZIP archives spanning several disks are not supported")
    return dataclasses.replace(end, entries=entries, cd_size=cd_size, cd_offset=cd_offset)


def _zip64_extra(extra: bytes, usize: int, csize: int, offset: int) -> tuple[int, int, int]:
    """Sizes and offset with the 0xFFFFFFFF placeholders replaced from the ZIP64 extra field."""
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<HH", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        pos += 4 + length
        if tag != 1:
            continue
        values = []
        for i in range(len(body) // 8):
            values.append(struct.unpack_from("<Q", body, 8 * i)[0])
        it = iter(values)
        try:
            if usize == _U32:
                usize = next(it)
            if csize == _U32:
                csize = next(it)
            if offset == _U32:
                offset = next(it)
        except StopIteration:
            raise data_loss("ZIP64 extra field is too short") from None
        return usize, csize, offset
    if _U32 in (usize, csize, offset):
        raise data_loss("ZIP entry needs a ZIP64 extra field, which is missing")
    return usize, csize, offset


def parse_central_directory(data: bytes, count: int, archive_end: int) -> list[Entry]:
    """The `count` entries of a central directory; local headers must start before
    `archive_end` (the offset where the central directory begins)."""
    entries: list[Entry] = []
    pos = 0
    for _ in range(count):
        if pos + CENTRAL_SIZE > len(data):
            raise data_loss("ZIP central directory is truncated")
        if data[pos : pos + 4] != CENTRAL_SIG:
            raise data_loss(f"ZIP central directory entry {len(entries)} has a bad signature")
        (flags, method, dos_time, dos_date, crc, csize, usize, name_len, extra_len, comment_len,
         _disk, _iattr, _eattr, offset) = struct.unpack_from("<HHHHIIIHHHHHII", data, pos + 8)  # fmt: skip
        name_start = pos + CENTRAL_SIZE
        extra_start = name_start + name_len
        end = extra_start + extra_len + comment_len
        if end > len(data):
            raise data_loss("ZIP central directory is truncated")
        name = bytes(data[name_start:extra_start])
        usize, csize, offset = _zip64_extra(bytes(data[extra_start : extra_start + extra_len]), usize, csize, offset)
        if offset + LOCAL_HEADER_SIZE > archive_end:
            raise data_loss("ZIP central directory entry has invalid local_header_offset")
        entries.append(Entry(name, flags, method, crc, csize, usize, offset, extra_len, dos_time, dos_date))
        pos = end
    return entries


def local_data_offset(header: bytes, entry: Entry) -> int:
    """Offset of an entry's data from the start of its local header (`header`: its first bytes)."""
    if len(header) < LOCAL_HEADER_SIZE or header[:4] != LOCAL_SIG:
        raise data_loss(f"ZIP local file header of {entry.name!r} not found at offset {entry.local_offset}")
    name_len, extra_len = struct.unpack_from("<HH", header, 26)
    return LOCAL_HEADER_SIZE + name_len + extra_len
