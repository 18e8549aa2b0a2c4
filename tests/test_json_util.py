"""JSON printing as TensorStore does it in messages and reprs."""

import pytest

import tensorstore_py as ts
from tensorstore_py.json_util import dumps, pretty_repr

ref = pytest.importorskip("tensorstore")


@pytest.mark.parametrize("value", [1e15, 1.5, {"b": 1, "a": 2.0}, 1e-5, 1000000054099968.0, 1e16, -2.5e-7, 100.0,
                                   {"z": {"y": 1, "x": [3e15, "s"]}}, [True, None, "é"], 5e-324])
def test_values_in_messages_match_the_reference(value):
    def message(lib):
        with pytest.raises(ValueError) as exc:
            lib.Spec({"driver": "zarr", "kvstore": "memory://", "metadata": {"shape": value}})
        return str(exc.value)

    assert message(ts) == message(ref)


def test_pretty_repr_layout_matches_the_reference():
    for shape in ([5], [10**9] * 6, [3, 4]):
        for path in ("", "a" * 40, "b" * 75):
            spec = ref.Spec({"driver": "zarr", "kvstore": {"driver": "memory", "path": path}, "metadata": {"shape": shape}})
            assert pretty_repr(spec.to_json(), "Spec(", ")") == repr(spec)


def test_dumps_is_compact():
    assert dumps({"b": [1, 2], "a": None}) == '{"a":null,"b":[1,2]}'


@pytest.mark.parametrize("name", ["'", '"', "\\", "\n", "\t", "é", "\x01", "a b", "\x7f"])
def test_strings_quoted_c_style_where_tensorstore_does(name):
    def message(lib):
        with pytest.raises(ValueError) as exc:
            lib.Spec({"driver": "zarr", "kvstore": "memory://", "metadata": {"compressor": {"id": "blosc", "cname": name}}})
        return str(exc.value)

    assert message(ts) == message(ref)
