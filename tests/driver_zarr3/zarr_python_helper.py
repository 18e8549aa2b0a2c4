"""Runs inside the zarr-python 3 environment (.venv-zarr3): the tests call it by subprocess.

    python zarr_python_helper.py read PATH OUT.npy
    python zarr_python_helper.py write PATH IN.npy PARAMS_JSON
    python zarr_python_helper.py write-regions PATH IN.npy PARAMS_JSON   (writes PARAMS["regions"] only)
    python zarr_python_helper.py jobs JOBS.json      (a JSON list of argument lists, in one process)

PARAMS: shape, chunks, shards (or null), dtype, fill_value, compressor ("zstd" / "gzip" /
"blosc" / null), endian, transpose (order or null), index_location, pipeline ("zarrs" for the
zarrs codec pipeline).
"""

import json
import sys

import numpy as np
import zarr
import zarr.codecs as zc


def _use_pipeline(params):
    if params.get("pipeline") == "zarrs":
        zarr.config.set({"codec_pipeline.path": "zarrs.ZarrsCodecPipeline"})


def _create(path, params):
    compressors = None
    name = params.get("compressor")
    if name == "zstd":
        compressors = [zc.ZstdCodec(level=params.get("level", 3), checksum=params.get("checksum", False))]
    elif name == "gzip":
        compressors = [zc.GzipCodec(level=params.get("level", 5))]
    elif name == "blosc":
        compressors = [zc.BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]
    filters = None
    if params.get("transpose") is not None:
        filters = [zc.TransposeCodec(order=params["transpose"])]
    fill = params.get("fill_value", 0)
    if isinstance(fill, list):  # zarr.json spells a complex fill value as [real, imag]
        fill = complex(*fill)
    kwargs = dict(
        store=path, shape=tuple(params["shape"]), chunks=tuple(params["chunks"]), dtype=params["dtype"],
        fill_value=fill, compressors=compressors, zarr_format=3, overwrite=True,
        serializer=zc.BytesCodec(endian=params.get("endian", "little")),
    )
    if filters is not None:
        kwargs["filters"] = filters
    if params.get("shards") is not None:
        kwargs["shards"] = tuple(params["shards"])
    return zarr.create_array(**kwargs)


def main(argv):
    command, path = argv[1], argv[2]
    if command == "jobs":
        with open(path) as f:
            for job in json.load(f):
                main([argv[0], *job])
        return
    if command == "read":
        params = json.loads(argv[4]) if len(argv) > 4 else {}
        _use_pipeline(params)
        array = zarr.open_array(path, mode="r")
        np.save(argv[3], array[...])
        return
    data = np.load(argv[3])
    params = json.loads(argv[4])
    _use_pipeline(params)
    array = _create(path, params)
    if command == "write":
        array[...] = data
    else:
        for region in params["regions"]:
            index = tuple(slice(a, b) for a, b in region)
            array[index] = data[index]


if __name__ == "__main__":
    main(sys.argv)
