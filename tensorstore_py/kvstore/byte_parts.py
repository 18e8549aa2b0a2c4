"""A value made of byte buffers stored one after the other, never joined into one.

A zarr3 shard is tens of megabytes of encoded inner chunks followed (or preceded) by an index;
joining them costs a copy of the shard and the page faults of a fresh buffer, and doubles the
memory a shard's read-modify-write holds (the old shard, whose unchanged chunks the new one
reuses, and the new one).  A kvstore that sets ``writes_parts = True`` on its driver takes a
`ByteParts` as a write's value and writes the parts as they are (the file store: `pwritev`);
a producer hands one only to such a store, and any other use of the value can join it with
``bytes(parts)``.

A `SourceReference` is the other value kvstores may be given besides bytes: a view of array
memory the writer gave up (``can_reference_source_data_indefinitely``), which a store that
sets ``keeps_source_references = True`` on its driver keeps as it is instead of copying, as
TensorStore's memory store does; a producer hands one only to such a store.
"""

from __future__ import annotations

from typing import Any, Iterable

import numpy as np

__all__ = ["ByteParts", "SourceReference"]


class ByteParts:
    """Byte buffers (flat, C-contiguous memoryviews) that make up one value, in order."""

    __slots__ = ("parts", "nbytes")

    def __init__(self, parts: Iterable[Any]) -> None:
        views = []
        for part in parts:
            view = part if isinstance(part, memoryview) else memoryview(part)
            if view.nbytes:
                views.append(view.cast("B") if view.format != "B" or view.ndim != 1 else view)
        self.parts: list[memoryview] = views
        self.nbytes = sum(v.nbytes for v in views)

    def __len__(self) -> int:
        return self.nbytes

    def __bytes__(self) -> bytes:
        return b"".join(self.parts)

    def __getitem__(self, index: slice) -> bytes:
        """A byte range of the value (joined: for reads of a value still staged)."""
        return bytes(self)[index]

    def __repr__(self) -> str:
        return f"ByteParts({len(self.parts)} parts, {self.nbytes} bytes)"

    def __eq__(self, other: object) -> bool:
        """Equal to a bytes-like value (or another `ByteParts`) with the same bytes."""
        if isinstance(other, ByteParts):
            other = bytes(other)
        try:
            view = memoryview(other)  # type: ignore[arg-type]
        except TypeError:
            return NotImplemented
        if view.nbytes != self.nbytes:
            return False
        flat = np.frombuffer(view, dtype=np.uint8) if view.c_contiguous else np.frombuffer(view.tobytes(), np.uint8)
        offset = 0
        for part in self.parts:
            n = part.nbytes
            if not np.array_equal(flat[offset : offset + n], np.frombuffer(part, dtype=np.uint8)):
                return False
            offset += n
        return True

    __hash__ = None  # type: ignore[assignment]


class SourceReference:
    """A value that is a view of memory its writer will never modify (the caller's array)."""

    __slots__ = ("view",)

    def __init__(self, view: memoryview) -> None:
        self.view = view.cast("B") if view.format != "B" or view.ndim != 1 else view

    def __len__(self) -> int:
        return self.view.nbytes

    def __bytes__(self) -> bytes:
        return self.view.tobytes()

    def __getitem__(self, index: slice) -> bytes:
        return self.view[index].tobytes()

    def __repr__(self) -> str:
        return f"SourceReference({self.view.nbytes} bytes)"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, SourceReference):
            other = other.view
        try:
            return self.view == memoryview(other).cast("B")  # type: ignore[arg-type]
        except TypeError:
            return NotImplemented

    __hash__ = None  # type: ignore[assignment]
