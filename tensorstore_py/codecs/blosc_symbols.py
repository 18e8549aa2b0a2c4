"""The address of c-blosc 1.x's ``blosc_compress_ctx`` inside python-blosc's extension module,
for a kernel that encodes chunks without the GIL (`_ext.chunkio.gather_encode`).

python-blosc links c-blosc statically and exports nothing but its module's init function, so
the function is found the way a debugger finds it: its offset in the library file's own symbol
table (``.symtab``, present unless the library was stripped), plus where the dynamic loader
placed the library (the address of the exported init function less its offset).  Anything
unexpected (another format, a stripped library, a missing symbol) gives None, and chunks are
encoded through python-blosc as always.
"""

from __future__ import annotations

import ctypes
import struct
from typing import Any

__all__ = ["compress_ctx_address"]

_ELF_MAGIC = b"\x7fELF"
_SHT_SYMTAB = 2
_STT_FUNC = 2
_SECTION = struct.Struct("<IIQQQQIIQQ")  # Elf64_Shdr
_SYMBOL = struct.Struct("<IBBHQQ")  # Elf64_Sym: name, info, other, section, value, size


def _symbol_offsets(path: str, names: list[bytes]) -> dict[bytes, int] | None:
    """The offsets of the functions `names` in the symbol table of the ELF64 little-endian
    shared library `path` (None where it has none, or another format)."""
    with open(path, "rb") as f:
        header = f.read(64)
        if len(header) < 64 or header[:4] != _ELF_MAGIC or header[4] != 2 or header[5] != 1:
            return None
        shoff, = struct.unpack_from("<Q", header, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", header, 0x3A)
        if shentsize != _SECTION.size or shnum == 0:
            return None
        f.seek(shoff)
        table = f.read(shentsize * shnum)
        sections = [_SECTION.unpack_from(table, i * shentsize) for i in range(len(table) // shentsize)]
        for _name, kind, _flags, _addr, offset, size, link, _info, _align, entsize in sections:
            if kind != _SHT_SYMTAB or entsize != _SYMBOL.size or link >= len(sections):
                continue
            f.seek(offset)
            symbols = f.read(size - size % entsize)
            f.seek(sections[link][4])
            strings = f.read(sections[link][5])
            found = {}
            for name in names:
                at = strings.find(b"\0" + name + b"\0")
                if at < 0:
                    return None
                value = _function_named(symbols, at + 1)
                if value is None:
                    return None
                found[name] = value
            return found
    return None


def _function_named(symbols: bytes, name: int) -> int | None:
    """The value of the one defined function whose name is at `name` in the string table
    (a search for the name's offset, not a parse of every symbol: this runs on a first write)."""
    key = struct.pack("<I", name)
    found = None
    at = symbols.find(key)
    while at >= 0:
        if at % _SYMBOL.size == 0:
            _, info, _, section, value, _ = _SYMBOL.unpack_from(symbols, at)
            if info & 0xF == _STT_FUNC and section != 0:
                if found is not None:
                    return None  # two functions of that name
                found = value
        at = symbols.find(key, at + 1)
    return found


def compress_ctx_address(extension: Any) -> int | None:
    """The address of ``blosc_compress_ctx`` in the loaded module `extension` (python-blosc's
    ``blosc.blosc_extension``), or None."""
    path = getattr(extension, "__file__", None)
    init = "PyInit_" + extension.__name__.rpartition(".")[2]
    if not path:
        return None
    try:
        offsets = _symbol_offsets(path, [init.encode(), b"blosc_compress_ctx"])
        if offsets is None:
            return None
        library = ctypes.CDLL(path)  # the module's own mapping: dlopen finds it loaded
        exported = ctypes.cast(getattr(library, init), ctypes.c_void_p).value
    except (OSError, ValueError, AttributeError):
        return None
    if not exported:
        return None
    return exported - offsets[init.encode()] + offsets[b"blosc_compress_ctx"]
