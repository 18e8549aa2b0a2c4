"""`ts.CodecSpec`: driver-specific constraints on how chunks are encoded.

The JSON form is an object with a ``"driver"`` member (``"zarr"``, ``"n5"``, ``"zarr3"``,
``"neuroglancer_precomputed"`` ...) plus that driver's codec members.  This layer knows no
driver: each driver package calls `register_codec_spec` with a function that validates and
normalises its codec JSON (filling defaults, e.g. zarr's ``"filters": null``) and optionally a
merge function.  A driver nobody registered is an error, as in TensorStore.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ..errors import invalid_argument
from ..json_util import from_python, dumps, expect_object, member_error, pretty_repr
from ..registry import Registry

__all__ = ["CodecSpec", "register_codec_spec", "defer_codec_spec", "merge_codec_specs", "codec_spec_from_json"]


@dataclass(frozen=True)
class _CodecDriver:
    parse: Callable[[dict], dict]
    merge: Optional[Callable[[dict, dict], dict]]


_REGISTRY: Registry[_CodecDriver] = Registry("codec spec driver")


def register_codec_spec(
    driver: str,
    parse: Callable[[dict], dict],
    merge: Optional[Callable[[dict, dict], dict]] = None,
) -> None:
    """Registers a driver's codec JSON handling.

    `parse(j)` receives the whole JSON object (``"driver"`` included), returns the normalised
    object (``"driver"`` included) and raises ``ValueError`` for invalid members.  `merge(a, b)`
    combines two normalised objects of this driver or raises; without one, members are merged
    one by one: a member present in both must be equal (``'"compressor" does not match'``).
    """
    _REGISTRY.register(driver, _CodecDriver(parse, merge))


def defer_codec_spec(driver: str, module: str) -> None:
    """Declares the codec JSON of `driver` before `module`, which registers it, is imported."""
    _REGISTRY.defer(driver, module)


def _parse(j: Any) -> dict:
    obj = expect_object(j)
    if "driver" not in obj:
        raise member_error("driver", invalid_argument("Expected string, but member is missing"))
    driver = obj["driver"]
    if not isinstance(driver, str):
        raise member_error("driver", invalid_argument(f"Expected string, but received: {dumps(driver)}"))
    entry = _REGISTRY.get(driver)
    if entry is None:
        raise member_error("driver", invalid_argument(f"{dumps(driver)} is not registered"))
    return entry.parse(copy.deepcopy(dict(obj)))


def _sorted(j: Any) -> Any:
    if isinstance(j, dict):
        return {k: _sorted(j[k]) for k in sorted(j)}
    if isinstance(j, list):
        return [_sorted(v) for v in j]
    return j


class CodecSpec:
    """Codec constraints for one driver, constructed from JSON: ``CodecSpec({"driver": "zarr", ...})``."""

    __slots__ = ("_json",)

    def __init__(self, json: Any) -> None:
        if isinstance(json, CodecSpec):
            self._json = copy.deepcopy(json._json)
            return
        self._json = _parse(from_python(json))

    @classmethod
    def _from_normalized(cls, j: dict) -> "CodecSpec":
        spec = cls.__new__(cls)
        spec._json = j
        return spec

    @property
    def driver(self) -> str:
        """The driver this codec applies to (not an attribute of the reference's class)."""
        return self._json["driver"]

    def to_json(self, include_defaults: bool = False) -> Any:
        """The JSON representation (members in sorted order)."""
        return _sorted(copy.deepcopy(self._json))

    def __repr__(self) -> str:
        # Laid out from column 0, as the reference does, whatever the prefix.
        return "CodecSpec(" + pretty_repr(self.to_json()) + ")"

    def __reduce__(self):
        return (codec_spec_from_json, (self.to_json(),))

    # The reference compares CodecSpec objects by identity; so does the default __eq__.


def codec_spec_from_json(j: Any) -> CodecSpec:
    return CodecSpec(j)


def merge_codec_specs(a: Optional[CodecSpec], b: Optional[CodecSpec]) -> Optional[CodecSpec]:
    """The combination of two codec constraints (either may be None), or an INVALID_ARGUMENT.

    Different drivers never merge; same-driver specs use the driver's merge function or the
    member-by-member rule.
    """
    if a is None:
        return b
    if b is None:
        return a
    ja, jb = a._json, b._json
    prefix = f"Cannot merge codec spec {dumps(_sorted(ja))} with {dumps(_sorted(jb))}"
    if ja.get("driver") != jb.get("driver"):
        raise invalid_argument(prefix)
    entry = _REGISTRY.get(ja["driver"])
    try:
        if entry is not None and entry.merge is not None:
            merged = entry.merge(copy.deepcopy(ja), copy.deepcopy(jb))
        else:
            merged = copy.deepcopy(ja)
            for key, value in jb.items():
                if key in merged and merged[key] != value:
                    raise invalid_argument(f'"{key}" does not match')
                merged[key] = copy.deepcopy(value)
    except ValueError as exc:
        message = exc.message if hasattr(exc, "message") else str(exc)
        raise invalid_argument(f"{prefix}: {message}") from None
    return CodecSpec._from_normalized(merged)
