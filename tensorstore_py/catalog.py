"""Where each built-in driver, kvstore driver, URL scheme, codec spec and context resource lives.

``import tensorstore_py`` declares them all by name here and imports none of their modules: a
module is imported the first time one of its names is looked up (`tensorstore_py.registry`),
and registers its entries as it always has.  So opening ``gs://...`` imports the gcs driver,
``CodecSpec({"driver": "n5"})`` the n5 driver, a context naming ``aws_credentials`` the s3
driver; a program that uses none of them never pays for them.  Each entry repeats what its
module registers (aliases, URL schemes, auto-detection keys); tests/test_lazy_imports.py checks
that the two agree.
"""

from __future__ import annotations

from .context import defer_resource_provider
from .driver.base import defer_driver
from .kvstore.driver import defer_kvstore_driver
from .schema.codec_spec import defer_codec_spec

__all__: list[str] = []

_KVSTORE = "tensorstore_py.kvstore."
_DRIVER = "tensorstore_py.driver."

# Key-value stores: name, module, URL schemes, whether an adapter.
defer_kvstore_driver("file", _KVSTORE + "file", ("file",))
defer_kvstore_driver("memory", _KVSTORE + "memory", ("memory",))
defer_kvstore_driver("gcs", _KVSTORE + "gcs", ("gs",))
defer_kvstore_driver("http", _KVSTORE + "http", ("http", "https"))
defer_kvstore_driver("s3", _KVSTORE + "s3", ("s3",))
defer_kvstore_driver("zip", _KVSTORE + "zip", ("zip",), adapter=True)
defer_kvstore_driver("ocdbt", _KVSTORE + "ocdbt", ("ocdbt",), adapter=True)
defer_kvstore_driver("zarr3_sharding_indexed", _DRIVER + "zarr3")
defer_kvstore_driver("neuroglancer_uint64_sharded", _DRIVER + "neuroglancer_precomputed")

# Context resources of those drivers (the shared ones are the context layer's own).
defer_resource_provider("aws_credentials", _KVSTORE + "s3")
defer_resource_provider("ocdbt_coordinator", _KVSTORE + "ocdbt")

# TensorStore drivers ("array" is imported with ts.array).
defer_driver("auto", _DRIVER + "auto")
defer_driver("zarr", _DRIVER + "zarr", aliases=("zarr2",), url_scheme="zarr2", auto_detect=(".zarray", 20))
defer_driver("zarr3", _DRIVER + "zarr3", url_scheme="zarr3", auto_detect=("zarr.json", 10))
defer_driver("n5", _DRIVER + "n5", url_scheme="n5", auto_detect=("attributes.json", 30))
defer_driver("neuroglancer_precomputed", _DRIVER + "neuroglancer_precomputed",
             url_scheme="neuroglancer-precomputed", auto_detect=("info", 40))
defer_driver("json", _DRIVER + "json", url_scheme="json")
defer_driver("cast", _DRIVER + "cast")
defer_driver("stack", _DRIVER + "stack")
defer_driver("downsample", _DRIVER + "downsample")

# Codec specs of the formats.
for _format in ("zarr", "zarr3", "n5", "neuroglancer_precomputed"):
    defer_codec_spec(_format, _DRIVER + _format)
del _format
