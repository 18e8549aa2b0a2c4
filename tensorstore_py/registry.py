"""Registries by name whose entries may live in modules not imported yet.

``import tensorstore_py`` must stay cheap, yet every driver, kvstore driver, URL scheme, codec
spec and context resource must be known by name from the start (TensorStore's registries are
complete at import).  A `Registry` holds the entries of modules already imported and, for the
others, the module that registers the name when it runs (`Registry.defer`; the built-in table
is `tensorstore_py.catalog`).  A lookup of a deferred name imports that module first, so a
caller never sees the difference; a listing imports every deferred module, so it is complete.
"""

from __future__ import annotations

import importlib
from typing import Generic, TypeVar

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Entries by name: registered ones, and deferred ones imported on first lookup."""

    def __init__(self, what: str) -> None:
        self.what = what  # named in the error of a deferred module that fails to register
        self._entries: dict[str, T] = {}
        self._deferred: dict[str, str] = {}  # name -> module that registers it on import

    def register(self, name: str, entry: T) -> None:
        self._entries[name] = entry
        self._deferred.pop(name, None)

    def defer(self, name: str, module: str) -> None:
        """Makes `name` known now; `module` registers its entry when imported."""
        if name not in self._entries:
            self._deferred[name] = module

    def get(self, name: str) -> T | None:
        entry = self._entries.get(name)
        if entry is not None:
            return entry
        module = self._deferred.get(name)
        if module is None:
            return None
        importlib.import_module(module)
        entry = self._entries.get(name)
        if entry is None:
            raise ImportError(f"module {module} did not register the {self.what} {name!r} it is deferred to")
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries or name in self._deferred

    def deferred_names(self) -> list[str]:
        """Names whose module is not imported yet (for tests and diagnostics)."""
        return list(self._deferred)

    def peek(self, name: str) -> T | None:
        """The entry of `name` if its module is imported already; never imports."""
        return self._entries.get(name)

    def items(self) -> list[tuple[str, T]]:
        """Every entry, importing the deferred modules first (a listing is complete)."""
        for name in list(self._deferred):
            self.get(name)
        return list(self._entries.items())
