"""The ``ocdbt`` kvstore adapter: TensorStore's versioned B+tree database over a base kvstore."""

from ..driver import register_kvstore_driver
from .driver import OcdbtDriver
from .spec import OcdbtDriverSpec

__all__ = ["OcdbtDriver", "OcdbtDriverSpec"]

register_kvstore_driver("ocdbt", OcdbtDriverSpec, url_scheme="ocdbt")
