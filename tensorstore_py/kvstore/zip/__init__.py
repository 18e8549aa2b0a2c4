"""The ``zip`` kvstore adapter (read-only): members of a zip archive held by any base kvstore."""

from .driver import ZipDriver, ZipDriverSpec

__all__ = ["ZipDriver", "ZipDriverSpec"]
