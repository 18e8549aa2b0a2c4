"""The ``zip`` kvstore adapter: members of a zip archive held by any base kvstore."""

from .driver import ZipDriver, ZipDriverSpec

__all__ = ["ZipDriver", "ZipDriverSpec"]
