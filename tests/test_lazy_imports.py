"""``import tensorstore_py`` imports no driver, kvstore or heavy third-party module, yet every
driver, kvstore, URL scheme, codec spec and context resource works from a fresh process as if
all were imported (tensorstore_py.catalog, tensorstore_py.registry).  Each check runs in its
own interpreter: in this one, other tests have imported everything already."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from concurrent.futures import ThreadPoolExecutor

import pytest


def _run(code: str) -> str:
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


#: Modules an import of the package must leave alone: every driver and kvstore, and the
#: third-party and standard modules only some of them need.
NOT_IMPORTED = [
    "asyncio", "blosc", "zstandard", "ssl", "socket", "email", "xml", "http", "urllib3", "botocore",
    "google.auth", "unittest", "psutil", "subprocess", "argparse", "zipfile",
    "tensorstore_py.ocdbt", "tensorstore_py.cli", "tensorstore_py.dask", "tensorstore_py.codecs",
    *(f"tensorstore_py.kvstore.{name}" for name in ["file", "memory", "gcs", "http", "s3", "zip", "ocdbt"]),
    *(f"tensorstore_py.driver.{name}" for name in [
        "auto", "zarr", "zarr3", "n5", "neuroglancer_precomputed", "json", "cast", "stack", "downsample",
        "virtual_chunked",
    ]),
]  # fmt: skip


def test_import_leaves_drivers_and_heavy_modules_unimported():
    loaded = set(json.loads(_run("import json, sys, tensorstore_py; print(json.dumps(sorted(sys.modules)))")))
    assert "tensorstore_py" in loaded and "ml_dtypes" in loaded  # bfloat16 & co. stay eager
    assert sorted(name for name in NOT_IMPORTED if name in loaded) == []


def test_lazy_package_attributes_resolve_and_are_listed():
    out = json.loads(_run("""
        import json, sys, tensorstore_py as ts
        names = ["ocdbt", "cast", "stack", "concat", "overlay", "downsample", "virtual_chunked",
                 "VirtualChunkedReadParameters", "VirtualChunkedWriteParameters"]
        listed = all(n in dir(ts) for n in names)
        before = "tensorstore_py.driver.stack" in sys.modules
        found = {n: getattr(ts, n).__name__ for n in names}
        print(json.dumps({"listed": listed, "before": before, "found": found,
                          "missing": hasattr(ts, "no_such_name")}))
    """))
    assert out["listed"] and not out["before"] and not out["missing"]
    assert out["found"] == {
        "ocdbt": "tensorstore_py.ocdbt", "cast": "cast", "stack": "stack", "concat": "concat", "overlay": "overlay",
        "downsample": "downsample", "virtual_chunked": "virtual_chunked",
        "VirtualChunkedReadParameters": "VirtualChunkedReadParameters",
        "VirtualChunkedWriteParameters": "VirtualChunkedWriteParameters",
    }  # fmt: skip


def test_catalog_declarations_match_what_the_modules_register():
    """Every deferred name is registered by its module, with the aliases, URL schemes (and
    their kind) and auto-detection keys the catalog declares for it."""
    out = json.loads(_run("""
        import json
        import tensorstore_py
        from tensorstore_py import context, registry
        from tensorstore_py.driver import base
        from tensorstore_py.kvstore import driver as kv
        from tensorstore_py.schema import codec_spec

        registries = {"driver": base._DRIVERS, "driver_url": base._URL_SCHEMES, "kvstore": kv._DRIVERS,
                      "kvstore_url": kv._URL_SCHEMES, "resource": context._PROVIDERS, "codec": codec_spec._REGISTRY}
        declared = {what: r.deferred_names() for what, r in registries.items()}
        kinds = {s: kv.url_scheme_kind(s) for s in declared["kvstore_url"]}
        ts_schemes = {s: kv.url_scheme_kind(s) for s in declared["driver_url"]}
        auto = dict(base.auto_detect_formats())
        problems = []
        for what, r in registries.items():
            for name in declared[what]:
                entry = r.get(name)
                if entry is None:
                    problems.append(f"{what} {name}: nothing registered")
        for name in declared["driver"]:
            cls = base.driver_for_id(name)
            if name not in (cls.id, *cls.aliases):
                problems.append(f"driver {name}: registered as {cls.id}")
            if cls.id == name and (cls.auto_detect_key or None) != auto.get(name):
                problems.append(f"driver {name}: auto-detect key {cls.auto_detect_key} declared {auto.get(name)}")
        for scheme in declared["driver_url"]:
            if base.driver_for_url_scheme(scheme).url_scheme != scheme:
                problems.append(f"driver URL scheme {scheme}")
        for scheme, kind in kinds.items():
            if kv.url_scheme_kind(scheme) != kind:
                problems.append(f"kvstore URL scheme {scheme}: declared {kind}, is {kv.url_scheme_kind(scheme)}")
        for name in declared["resource"]:
            if context.get_provider(name).id != name:
                problems.append(f"resource {name}")
        print(json.dumps({"declared": declared, "kinds": kinds, "ts_schemes": ts_schemes,
                          "auto": base.auto_detect_formats(), "problems": problems}))
    """))
    assert out["problems"] == []
    declared = out["declared"]
    assert {"file", "memory", "gcs", "http", "s3", "zip", "ocdbt", "zarr3_sharding_indexed",
            "neuroglancer_uint64_sharded"} <= set(declared["kvstore"])
    assert {"auto", "zarr", "zarr2", "zarr3", "n5", "neuroglancer_precomputed", "json", "cast", "stack",
            "downsample"} <= set(declared["driver"])
    assert {"aws_credentials", "ocdbt_coordinator"} <= set(declared["resource"])
    assert out["kinds"] == {"file": "root", "memory": "root", "gs": "root", "http": "root", "https": "root",
                            "s3": "root", "zip": "adapter", "ocdbt": "adapter"}
    assert set(out["ts_schemes"].values()) == {"tensorstore"}
    assert [name for name, _ in out["auto"]] == ["zarr3", "zarr", "n5", "neuroglancer_precomputed"]


# One fresh process per case: each driver must work when it is the first one used.
SHARDED_METADATA = {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 0, "hash": "identity",
                    "minishard_bits": 0, "shard_bits": 0, "minishard_index_encoding": "raw", "data_encoding": "raw"}
ZARR3_INDEX = [{"name": "bytes", "configuration": {"endian": "little"}}, {"name": "crc32c"}]

OPEN_CASES = {
    "kvstore file": "kv = ts.KvStore.open('file://' + tmp + '/k/').result(); kv.write(b'a', b'1').result(); "
                    "check(kv.read(b'a').result().value == b'1')",
    "kvstore memory": "kv = ts.KvStore.open('memory://k/').result(); kv.write(b'a', b'1').result(); "
                      "check(kv.list().result() == [b'a'])",
    "kvstore gcs": "check(ts.KvStore.open('gs://bucket/p/').result().url == 'gs://bucket/p/')",
    "kvstore http": "check(ts.KvStore.open('http://localhost:1/p/').result().url == 'http://localhost:1/p/')",
    "kvstore s3": "check(ts.KvStore.open('s3://bucket/p/').result().url == 's3://bucket/p/')",
    "kvstore zip": "check(ts.KvStore.open('memory://x/a.zip|zip:').result().spec().to_json()['driver'] == 'zip')",
    "kvstore ocdbt": "kv = ts.KvStore.open({'driver': 'ocdbt', 'base': 'memory://db/'}).result(); "
                     "kv.write(b'a', b'1').result(); check(kv.read(b'a').result().value == b'1')",
    "kvstore zarr3_sharding_indexed": "kv = ts.KvStore.open({'driver': 'zarr3_sharding_indexed', 'base': 'memory://a/s', "
                                      f"'grid_shape': [2], 'index_codecs': {ZARR3_INDEX!r}}}).result(); "
                                      "kv.write(b'\\0\\0\\0\\1', b'x').result(); check(kv.read(b'\\0\\0\\0\\1').result().value == b'x')",
    "kvstore neuroglancer_uint64_sharded": "kv = ts.KvStore.open({'driver': 'neuroglancer_uint64_sharded', "
                                           f"'base': 'memory://s/', 'metadata': {SHARDED_METADATA!r}}}).result(); "
                                           "check(kv.spec().to_json()['driver'] == 'neuroglancer_uint64_sharded')",
    "resource aws_credentials": "check(ts.Context({'aws_credentials': {'type': 'anonymous'}}) is not None)",
    "resource ocdbt_coordinator": "check(ts.Context({'ocdbt_coordinator': {}}) is not None)",
    "codec spec zarr3": "check(ts.CodecSpec({'driver': 'zarr3'}).to_json()['driver'] == 'zarr3')",
    "codec spec neuroglancer_precomputed": "check(ts.CodecSpec({'driver': 'neuroglancer_precomputed'}).driver "
                                            "== 'neuroglancer_precomputed')",
    "driver url zarr2": "t = ts.open('memory://a/|zarr2:', create=True, dtype=ts.uint8, shape=[3]).result(); "
                        "t.write(np.arange(3, dtype=np.uint8)).result(); check(list(t.read().result()) == [0, 1, 2])",
    **{f"driver {d}": f"t = ts.open({{'driver': '{d}', 'kvstore': 'memory://a/'}}, create=True, dtype=ts.uint8, "
                      "shape=[4]).result(); t.write(np.arange(4, dtype=np.uint8)).result(); "
                      "check(list(t.read().result()) == [0, 1, 2, 3])"
       for d in ["zarr", "zarr3", "n5"]},
    "driver neuroglancer_precomputed": "t = ts.open({'driver': 'neuroglancer_precomputed', 'kvstore': 'memory://a/'}, "
                                       "create=True, dtype=ts.uint8, shape=[4, 4, 4, 1]).result(); "
                                       "check(t.read().result().shape == (4, 4, 4, 1))",
    "driver auto": "c = ts.Context(); ts.open('memory://a/|zarr3:', create=True, dtype=ts.uint8, shape=[2], "
                   "context=c).result(); check(ts.open('memory://a/', context=c).result().spec().to_json()['driver'] "
                   "== 'zarr3')",
    "driver json": "t = ts.open({'driver': 'json', 'kvstore': 'memory://a.json'}).result(); "
                   "t.write({'a': 1}).result(); check(t.read().result() == {'a': 1})",
    "driver cast": "t = ts.open({'driver': 'cast', 'dtype': 'int32', 'base': {'driver': 'array', 'array': [1, 2], "
                   "'dtype': 'uint8'}}).result(); check(t.dtype == ts.int32)",
    "driver stack": "t = ts.open({'driver': 'stack', 'layers': [{'driver': 'array', 'array': [1], 'dtype': 'uint8'}, "
                    "{'driver': 'array', 'array': [2], 'dtype': 'uint8', 'transform': {'input_exclusive_max': [2], "
                    "'input_inclusive_min': [1], 'output': [{'input_dimension': 0, 'offset': -1}]}}]}).result(); "
                    "check(list(t.read().result()) == [1, 2])",
    "driver downsample": "t = ts.open({'driver': 'downsample', 'downsample_factors': [2], 'downsample_method': 'mean', "
                         "'base': {'driver': 'array', 'array': [1, 3], 'dtype': 'float32'}}).result(); "
                         "check(list(t.read().result()) == [2.0])",
    "first uses in parallel threads": "from concurrent.futures import ThreadPoolExecutor\n"
                                      "def use(d):\n"
                                      "    t = ts.open({'driver': d, 'kvstore': 'memory://' + d + '/'}, create=True, "
                                      "dtype=ts.uint8, shape=[2]).result()\n"
                                      "    return t.spec().to_json()['driver']\n"
                                      "drivers = ['zarr', 'zarr3', 'n5', 'zarr', 'zarr3', 'n5']\n"
                                      "check(list(ThreadPoolExecutor(6).map(use, drivers)) == drivers)",
    "driver virtual_chunked": "t = ts.virtual_chunked(lambda d, a, p: a.fill(7), dtype=ts.uint8, shape=[3]); "
                              "check(list(t.read().result()) == [7, 7, 7])",
}  # fmt: skip

_PRELUDE = """
import sys, tempfile
import numpy as np
import tensorstore_py as ts
tmp = tempfile.mkdtemp()

def check(ok):
    if not ok:
        raise SystemExit("check failed")
"""


def test_every_deferred_driver_works_first_in_a_fresh_process():
    with ThreadPoolExecutor(2) as pool:
        outcomes = dict(zip(OPEN_CASES, pool.map(_try, OPEN_CASES.values())))
    assert {case: error for case, error in outcomes.items() if error} == {}


def _try(code: str) -> str | None:
    done = subprocess.run([sys.executable, "-c", _PRELUDE + code + "\nimport shutil; shutil.rmtree(tmp)"],
                          capture_output=True, text=True, timeout=240)
    return None if done.returncode == 0 else done.stderr[-1500:] or done.stdout[-500:]


@pytest.mark.parametrize("name", ["nope", "zarr4"])
def test_unknown_driver_errors_are_unchanged(name):
    out = _run(f"""
        import tensorstore_py as ts
        for attempt in (lambda: ts.open({{"driver": "{name}"}}).result(),
                        lambda: ts.KvStore.open({{"driver": "{name}"}}).result(),
                        lambda: ts.CodecSpec({{"driver": "{name}"}}),
                        lambda: ts.Context({{"{name}": {{}}}})):
            try:
                attempt()
            except ValueError as exc:
                print(exc)
    """)
    assert out.splitlines() == [
        f'Error parsing object member "driver": "{name}" is not a registered TensorStore driver',
        f'Error parsing object member "driver": "{name}" is not a registered KvStore driver',
        f'Error parsing object member "driver": "{name}" is not registered',
        f'Invalid context resource identifier: "{name}"',
    ]


def test_unpickling_in_a_fresh_process_finds_lazily_loaded_classes():
    """Pickles made where everything is loaded load where nothing is yet (by module path)."""
    blob = _run("""
        import pickle, tensorstore_py as ts
        things = [ts.VirtualChunkedReadParameters, ts.Spec({"driver": "n5", "kvstore": "memory://a/"}),
                  ts.KvStore.Spec("gs://bucket/p/"), ts.CodecSpec({"driver": "zarr3"}),
                  ts.cast(ts.array([1, 2], dtype=ts.uint8), ts.int32).spec()]
        print(pickle.dumps(things).hex())
    """).strip()
    out = _run(f"""
        import pickle, tensorstore_py as ts
        cls, spec, kvspec, codec, cast = pickle.loads(bytes.fromhex("{blob}"))
        print(cls.__name__, spec.to_json()["driver"], kvspec.url, codec.driver, cast.to_json()["driver"])
    """)
    assert out.split() == ["VirtualChunkedReadParameters", "n5", "gs://bucket/p/", "zarr3", "cast"]
