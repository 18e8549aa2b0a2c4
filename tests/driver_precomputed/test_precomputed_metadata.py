"""neuroglancer_precomputed metadata, spec and schema, differential against tensorstore 0.1.86."""

import json
import os

import pytest

import tensorstore_py as ts
import tensorstore_py.driver.neuroglancer_precomputed  # noqa: F401  (registers the driver)

ref = pytest.importorskip("tensorstore")

SEED = os.path.join(os.path.dirname(__file__), "..", "seed", "000_88b9d1ef209e1fc1.txt")

HEMIBRAIN_INFO = {
    "@type": "neuroglancer_multiscale_volume",
    "type": "segmentation",
    "data_type": "uint64",
    "num_channels": 1,
    "scales": [
        {
            "key": "8.0x8.0x8.0",
            "size": [34432, 39552, 41408],
            "voxel_offset": [0, 0, 0],
            "resolution": [8, 8, 8],
            "chunk_sizes": [[64, 64, 64]],
            "encoding": "compressed_segmentation",
            "compressed_segmentation_block_size": [8, 8, 8],
            "sharding": {
                "@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 9, "hash": "identity",
                "minishard_bits": 6, "shard_bits": 15, "minishard_index_encoding": "gzip", "data_encoding": "gzip",
            },
        },
        {
            "key": "16", "size": [100, 100, 100], "voxel_offset": [1, 2, 3], "resolution": [16, 16, 16],
            "chunk_sizes": [[32, 32, 32]], "encoding": "raw",
        },
    ],
}  # fmt: skip


@pytest.fixture
def hemibrain(tmp_path):
    path = tmp_path / "hemi"
    path.mkdir()
    (path / "info").write_text(json.dumps(HEMIBRAIN_INFO))
    return str(path) + "/"


def _spec(path, **extra):
    return {"driver": "neuroglancer_precomputed", "kvstore": {"driver": "file", "path": path}, **extra}


def _seed_block(name: str) -> str:
    """The seed's precomputed example, from `'<name>': {` to the matching closing brace."""
    text = open(SEED).read()
    start = text.index("'driver': 'neuroglancer_precomputed'")
    start = text.index(f"'{name}': {{", start)
    depth = 0
    for i in range(start, len(text)):
        depth += text[i] == "{"
        depth -= text[i] == "}"
        if depth == 0 and text[i] == "}":
            return text[start : i + 1]
    raise AssertionError(name)


def _flat(s: str) -> str:
    return " ".join(s.split()).replace("{ ", "{").replace(", }", "}").replace(",}", "}")


def test_seed_repr_exact_for_local_hemibrain(hemibrain):
    ours = ts.open(_spec(hemibrain), read=True).result()
    theirs = ref.open(_spec(hemibrain), read=True).result()
    assert repr(ours) == repr(theirs)
    text = repr(ours)
    assert "'file_io_concurrency': {}" in text
    # Every member the seed shows for the gcs volume comes out the same for the local copy.
    for block in ("scale_metadata", "transform"):
        assert _flat(_seed_block(block)) in _flat(text)
    assert "'multiscale_metadata': {'num_channels': 1, 'type': 'segmentation'}," in text
    assert "'scale_index': 0," in text


def test_open_existing_scales_introspection(hemibrain):
    for extra in ({}, {"scale_index": 1}, {"scale_metadata": {"key": "16"}}, {"scale_metadata": {"resolution": [16, 16, 16]}}):
        ours = ts.open(_spec(hemibrain, **extra)).result()
        theirs = ref.open(_spec(hemibrain, **extra)).result()
        assert ours.spec().to_json() == theirs.spec().to_json()
        assert ours.spec(minimal_spec=True).to_json() == theirs.spec(minimal_spec=True).to_json()
        assert ours.schema.to_json() == theirs.schema.to_json()
        assert ours.chunk_layout.to_json() == theirs.chunk_layout.to_json()
        assert ours.codec.to_json() == theirs.codec.to_json()
        assert ours.fill_value is None and theirs.fill_value is None
        assert [None if u is None else (u.multiplier, u.base_unit) for u in ours.dimension_units] == [
            None if u is None else (u.multiplier, u.base_unit) for u in theirs.dimension_units
        ]
        try:
            expected = theirs.url
        except ValueError as exc:
            with pytest.raises(ValueError, match=str(exc)):
                ours.url
        else:
            assert ours.url == expected
        assert ours.domain.to_json() == theirs.domain.to_json()


def test_url_and_auto_detection(hemibrain):
    url = f"file://{hemibrain}"
    assert ts.open(url + "|neuroglancer-precomputed:").result().url == ref.open(url + "|neuroglancer-precomputed:").result().url
    assert ts.open(url).result().url == f"{url}|neuroglancer-precomputed:"


CREATE_CASES = [
    dict(dtype="uint16", shape=[100, 200, 300, 2]),
    dict(dtype="uint32", shape=[1000, 2000, 3000, 1], codec={"driver": "neuroglancer_precomputed", "encoding": "compressed_segmentation"}),
    dict(dtype="uint64", shape=[10, 10, 10, 2], json={"scale_metadata": {"encoding": "compressed_segmentation", "compressed_segmentation_block_size": [4, 4, 2]}}),
    dict(dtype="uint8", domain=dict(inclusive_min=[5, 6, 7, 0], shape=[100, 200, 300, 3]), dimension_units=["4nm", "5nm", "6nm", None],
         codec={"driver": "neuroglancer_precomputed", "encoding": "jpeg", "jpeg_quality": 80}),
    dict(dtype="uint8", shape=[10, 10, 10, 1], codec={"driver": "neuroglancer_precomputed", "encoding": "png"}),
    dict(dtype="uint16", shape=[10, 10, 10, 3], json={"scale_metadata": {"encoding": "png", "png_level": 3}}),
    dict(dtype="float32", shape=[10, 10, 10, 1], dimension_units=["2nm", None, "4nm", None]),
    dict(dtype="uint16", shape=[100, 200, 300, 2], chunk_layout=dict(write_chunk_shape=[64, 64, 64, 2], read_chunk_shape=[16, 16, 16, 2])),
    dict(dtype="uint8", shape=[10, 10, 10, 1], chunk_layout=dict(write_chunk_elements=1000, read_chunk_shape=[2, 2, 2, 1])),
    dict(json={"scale_metadata": {"resolution": [8, 8, 8], "size": [10, 10, 10], "voxel_offset": [-3, 0, 4], "chunk_size": [5, 5, 5], "encoding": "raw"},
               "multiscale_metadata": {"num_channels": 1, "data_type": "int16", "type": "image"}}),
    dict(json={"scale_metadata": {"size": [100, 60, 20], "chunk_size": [4, 4, 4], "sharding": {
        "@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 5, "hash": "identity", "minishard_bits": 3, "shard_bits": 9}},
        "multiscale_metadata": {"num_channels": 1, "data_type": "uint8"}}),
    dict(json={"scale_metadata": {"size": [100, 100, 100], "chunk_size": [4, 4, 4], "sharding": {
        "@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 3, "hash": "murmurhash3_x86_128", "minishard_bits": 3, "shard_bits": 9,
        "minishard_index_encoding": "gzip", "data_encoding": "gzip"}}, "multiscale_metadata": {"num_channels": 1, "data_type": "uint8"}}),
    dict(json={"scale_metadata": {"size": [10, 10, 10], "chunk_size": [4, 4, 4], "sharding": {
        "@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1, "hash": "identity", "minishard_bits": 2, "shard_bits": 1}},
        "multiscale_metadata": {"num_channels": 1, "data_type": "uint8"}}),
]  # fmt: skip


def _open_kwargs(lib, case):
    kwargs = {}
    for name, value in case.items():
        if name == "json":
            continue
        if name == "dtype":
            kwargs["dtype"] = getattr(lib, value)
        elif name == "codec":
            kwargs["codec"] = lib.CodecSpec(value)
        elif name == "chunk_layout":
            kwargs["chunk_layout"] = lib.ChunkLayout(**value)
        elif name == "domain":
            kwargs["domain"] = lib.IndexDomain(**value)
        else:
            kwargs[name] = value
    return kwargs


def _outcome(lib, path, case):
    try:
        store = lib.open(_spec(path, **case.get("json", {})), create=True, **_open_kwargs(lib, case)).result()
    except ValueError as exc:
        return ("error", str(exc).split(" [tensorstore_spec=")[0])
    info = json.loads(open(path + "info").read())
    return (
        store.spec().to_json(),
        store.schema.to_json(),
        store.chunk_layout.to_json(),
        store.codec.to_json(),
        info,
    )


@pytest.mark.parametrize("case", CREATE_CASES, ids=range(len(CREATE_CASES)))
def test_create_matches_reference(tmp_path, case):
    ours = _outcome(ts, str(tmp_path / "ours") + "/", case)
    theirs = _outcome(ref, str(tmp_path / "theirs") + "/", case)
    ours_j = json.loads(json.dumps(ours).replace(str(tmp_path / "ours"), "P"))
    theirs_j = json.loads(json.dumps(theirs).replace(str(tmp_path / "theirs"), "P"))
    assert ours_j == theirs_j


ERROR_CASES = [
    dict(dtype="uint16", shape=[10, 10, 10, 3], json={"scale_metadata": {"encoding": "jpeg"}}),
    dict(dtype="uint8", shape=[10, 10, 10, 2], json={"scale_metadata": {"encoding": "jpeg"}}),
    dict(dtype="uint8", shape=[10, 10, 10, 5], json={"scale_metadata": {"encoding": "png"}}),
    dict(dtype="uint32", shape=[10, 10, 10, 1], json={"scale_metadata": {"encoding": "png"}}),
    dict(dtype="uint8", shape=[10, 10, 10, 1], json={"scale_metadata": {"encoding": "compressed_segmentation"}}),
    dict(dtype="int64", shape=[10, 10, 10, 1]),
    dict(dtype="uint8", shape=[10, 10, 10, 1], fill_value=3),
    dict(dtype="uint8", shape=[10, 10, 10, 1], dimension_units=["nm", None, "4um", None]),
    dict(dtype="uint8", shape=[10, 10, 10, 1], dimension_units=["nm", None, "4nm", "1nm"]),
    dict(json={"scale_index": 1}, dtype="uint8", shape=[10, 10, 10, 1]),
    dict(dtype="uint8"),
    dict(shape=[10, 10, 10, 1]),
    dict(json={"scale_metadata": {"encoding": "raw", "jpeg_quality": 3}}, dtype="uint8", shape=[10, 10, 10, 1]),
    dict(json={"scale_metadata": {"voxel_offset": [1, 2, 3]}}, dtype="uint8"),
    dict(json={"scale_metadata": {"encoding": "bogus"}}, dtype="uint8"),
    dict(json={"scale_metadata": {"size": [10, 10, 10], "sharding": {"@type": "neuroglancer_uint64_sharded_v1", "preshift_bits": 1,
                                                                    "hash": "sha", "minishard_bits": 1, "shard_bits": 1}}}),
    dict(json={"multiscale_metadata": {"num_channels": 3}}, dtype="uint8", shape=[10, 10, 10, 2]),
]  # fmt: skip


@pytest.mark.parametrize("case", ERROR_CASES, ids=range(len(ERROR_CASES)))
def test_create_errors_match_reference(tmp_path, case):
    ours = _outcome(ts, str(tmp_path / "ours") + "/", case)
    theirs = _outcome(ref, str(tmp_path / "theirs") + "/", case)
    assert ours[0] == "error"
    assert ours == (theirs[0], theirs[1].replace(str(tmp_path / "theirs"), str(tmp_path / "ours")))


def test_new_scales_in_existing_info(tmp_path):
    results = []
    for lib, name in ((ts, "ours"), (ref, "theirs")):
        path = str(tmp_path / name) + "/"
        base = dict(multiscale_metadata={"num_channels": 2, "data_type": "uint16", "type": "image"})
        lib.open(_spec(path, scale_metadata={"resolution": [4, 4, 40], "size": [64, 64, 16], "chunk_size": [16, 16, 8]}, **base), create=True).result()
        lib.open(_spec(path, scale_metadata={"resolution": [8, 8, 40], "size": [32, 32, 16], "encoding": "png"}, **base), create=True).result()
        lib.open(_spec(path, scale_metadata={"key": "custom", "size": [16, 16, 16]}), create=True, dimension_units=["16nm", "16nm", "40nm", None]).result()
        outcomes = []
        for attempt in (
            dict(scale_metadata={"resolution": [8, 8, 40], "size": [32, 32, 16]}),
            dict(scale_metadata={"key": "custom", "size": [16, 16, 16]}),
            dict(scale_index=1, scale_metadata={"size": [5, 5, 5]}),
            dict(scale_index=5, scale_metadata={"size": [5, 5, 5]}),
            dict(multiscale_metadata={"data_type": "uint8"}, scale_metadata={"size": [5, 5, 5], "resolution": [1, 2, 3]}),
        ):
            try:
                lib.open(_spec(path, **attempt), create=True).result()
                outcomes.append("ok")
            except ValueError as exc:
                outcomes.append(str(exc).split(" [tensorstore_spec=")[0].replace(path, "P/"))
        opened = []
        for sel in ({"scale_index": 2}, {"scale_metadata": {"key": "8_8_40"}}, {}, {"scale_index": 7}, {"scale_metadata": {"key": "nope"}}):
            try:
                opened.append(lib.open(_spec(path, **sel)).result().spec().to_json()["scale_metadata"])
            except ValueError as exc:
                opened.append(str(exc).split(" [tensorstore_spec=")[0].replace(path, "P/"))
        opened.append(lib.open(_spec(path), dimension_units=["8nm", None, None, None]).result().spec().to_json()["scale_index"])
        results.append((json.loads(open(path + "info").read()), outcomes, opened))
    assert results[0] == results[1]


def test_open_mismatch_errors(hemibrain):
    for extra, kwargs in (
        ({"scale_metadata": {"encoding": "raw"}}, {}),
        ({"scale_metadata": {"size": [1, 2, 3]}}, {}),
        ({"multiscale_metadata": {"num_channels": 2}}, {}),
        ({"multiscale_metadata": {"type": "image"}}, {}),
        ({}, {"dtype": "uint32"}),
        ({"scale_index": 1}, {"codec": {"driver": "neuroglancer_precomputed", "encoding": "jpeg"}}),
        ({"scale_index": 1}, {"domain": {"inclusive_min": [0, 0, 0, 0], "shape": [5, 5, 5, 1]}}),
    ):
        got = []
        for lib in (ts, ref):
            kw = dict(kwargs)
            if "dtype" in kw:
                kw["dtype"] = getattr(lib, kw["dtype"])
            if "codec" in kw:
                kw["codec"] = lib.CodecSpec(kw["codec"])
            if "domain" in kw:
                kw["domain"] = lib.IndexDomain(**kw["domain"])
            with pytest.raises(ValueError) as info:
                lib.open(_spec(hemibrain, **extra), **kw).result()
            got.append(str(info.value).split(" [tensorstore_spec=")[0])
        assert got[0] == got[1]


def test_spec_json_round_trip():
    j = {
        "driver": "neuroglancer_precomputed",
        "kvstore": {"driver": "memory"},
        "scale_index": 2,
        "multiscale_metadata": {"num_channels": 3, "type": "image", "data_type": "uint8"},
        "scale_metadata": {"key": "k", "resolution": [1, 2, 3], "encoding": "jpeg", "jpeg_quality": 9,
                           "size": [4, 5, 6], "chunk_size": [2, 2, 2], "sharding": None},
    }  # fmt: skip
    assert ts.Spec(j).to_json() == ref.Spec(j).to_json()


_GOOD_INFO = {
    "@type": "neuroglancer_multiscale_volume", "type": "image", "data_type": "uint8", "num_channels": 1,
    "scales": [{"key": "a", "size": [4, 4, 4], "resolution": [1, 1, 1], "chunk_sizes": [[2, 2, 2]], "encoding": "raw"}],
}  # fmt: skip

_INFO_MUTATIONS = [
    lambda j: j.update(data_type="int64"),
    lambda j: j.update(num_channels=0),
    lambda j: j.pop("data_type"),
    lambda j: j["scales"][0].update(encoding="jpeg", jpeg_quality=500),
    lambda j: j["scales"][0].update(chunk_sizes=[]),
    lambda j: j["scales"][0].pop("key"),
    lambda j: j["scales"][0].update(size=[4, 4]),
    lambda j: j["scales"][0].update(encoding="compressed_segmentation"),
    lambda j: j["scales"][0].update(sharding={"@type": "neuroglancer_uint64_sharded_v1"}),
    lambda j: j["scales"][0].update(jpeg_quality=5),
    lambda j: j.update({"@type": "other"}),
    lambda j: j["scales"][0].update(encoding="jpeg"),
    lambda j: j.update(extra_member={"kept": True}),
]


@pytest.mark.parametrize("mutation", range(len(_INFO_MUTATIONS) + 1))
def test_stored_info_errors_match_reference(tmp_path, mutation):
    import copy

    info = copy.deepcopy(_GOOD_INFO)
    if mutation < len(_INFO_MUTATIONS):
        _INFO_MUTATIONS[mutation](info)
        blob = json.dumps(info).encode()
    else:
        blob = b"not json"
    outcomes = []
    for lib, name in ((ts, "ours"), (ref, "theirs")):
        path = tmp_path / name
        path.mkdir()
        (path / "info").write_bytes(blob)
        try:
            store = lib.open(_spec(str(path) + "/")).result()
            outcomes.append(store.spec().to_json()["scale_metadata"])
        except ValueError as exc:
            outcomes.append(str(exc).split(" [tensorstore_spec=")[0].replace(str(path), "P"))
    assert outcomes[0] == outcomes[1]


def test_spec_json_and_pickle_reopen_with_resolved_bounds(hemibrain):
    import pickle

    for lib in (ts, ref):
        spec = lib.Spec(_spec(hemibrain))
        for again in (lib.Spec(spec.to_json()), pickle.loads(pickle.dumps(spec))):
            store = lib.open(again).result()
            assert store.domain.to_json() == ref.open(_spec(hemibrain)).result().domain.to_json()
            assert store[10:20].spec().to_json()["transform"] == {
                "input_exclusive_max": [20, 39552, 41408, 1], "input_inclusive_min": [10, 0, 0, 0],
                "input_labels": ["x", "y", "z", "channel"],
            }  # fmt: skip


def test_spec_update_with_shape_matches_reference():
    outs = []
    for lib in (ts, ref):
        spec = lib.Spec(_spec("/tmp/unused/", scale_metadata={"size": [7, 7, 7]}))
        spec.update(shape=[7, 7, 7, 2])
        outs.append((spec.to_json(), spec.domain.to_json()))
        outs.append((lib.Spec(_spec("/tmp/unused/")).to_json(), lib.Spec(_spec("/tmp/unused/")).domain.to_json()))
    assert outs[:2] == outs[2:]


@pytest.mark.parametrize("j", [
    {"driver": "neuroglancer_precomputed", "encoding": "raw"},
    {"driver": "neuroglancer_precomputed", "encoding": "jpeg", "jpeg_quality": 3, "shard_data_encoding": "gzip"},
    {"driver": "neuroglancer_precomputed", "encoding": "png", "png_level": 9},
    {"driver": "neuroglancer_precomputed", "encoding": "raw", "jpeg_quality": 3},
    {"driver": "neuroglancer_precomputed", "foo": 1},
    {"driver": "neuroglancer_precomputed", "encoding": "png", "png_level": 10},
    {"driver": "neuroglancer_precomputed", "shard_data_encoding": "zstd"},
], ids=range(7))  # fmt: skip
def test_codec_spec_json_matches_reference(j):
    got = []
    for lib in (ts, ref):
        try:
            got.append(repr(lib.CodecSpec(j)))
        except ValueError as exc:
            got.append(str(exc))
    assert got[0] == got[1]
