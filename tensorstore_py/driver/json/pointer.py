"""JSON Pointers (RFC 6901): parsing, and reading / replacing the value one refers to, with
TensorStore's errors.  Replacing creates missing object members, and ``-`` appends to an array.
"""

from __future__ import annotations

import copy
from typing import Any

from ...errors import StatusError, failed_precondition, invalid_argument, not_found, out_of_range
from ...json_util import dumps, quote_string

__all__ = ["parse_pointer", "get_pointer", "set_pointer", "ABSENT"]

#: A document that does not exist (distinct from JSON null).
ABSENT: Any = object()


def parse_pointer(text: str) -> list[str]:
    """The reference tokens of `text`, unescaped."""
    if text == "":
        return []
    if not text.startswith("/"):
        raise invalid_argument(f"JSON Pointer does not start with '/': {quote_string(text)}")
    tokens = []
    for raw in text[1:].split("/"):
        i = raw.find("~")
        while i != -1:
            if i + 1 >= len(raw) or raw[i + 1] not in "01":
                raise invalid_argument(f"JSON Pointer requires '~' to be followed by '0' or '1': {quote_string(text)}")
            i = raw.find("~", i + 2)
        tokens.append(raw.replace("~1", "/").replace("~0", "~"))
    return tokens


def _prefix(text: str, n: int) -> str:
    """`text` up to and including its n-th reference token."""
    return "/".join(text.split("/")[: n + 1])


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, str):
        return "string"
    return "number"


def _not_container(text: str, n: int, value: Any) -> StatusError:
    return failed_precondition(
        f"JSON Pointer reference {quote_string(_prefix(text, n))} cannot be applied to {_kind(value)} value: {dumps(value)}"
    )


def _array_index(token: str, text: str, n: int) -> int | None:
    """The index `token` names (None for "-"); FAILED_PRECONDITION when it names none."""
    if token == "-":
        return None
    if not token.isdigit() or (len(token) > 1 and token[0] == "0"):
        raise failed_precondition(f"JSON Pointer {quote_string(_prefix(text, n))} is invalid for array value")
    return int(token)


def get_pointer(document: Any, text: str) -> Any:
    """The value `text` refers to in `document`."""
    node = document
    for n, token in enumerate(parse_pointer(text), start=1):
        if isinstance(node, dict):
            if token not in node:
                raise not_found(f"JSON Pointer {quote_string(_prefix(text, n))} refers to non-existent object member")
            node = node[token]
        elif isinstance(node, list):
            index = _array_index(token, text, n)
            if index is None:
                raise failed_precondition(f"JSON Pointer {quote_string(_prefix(text, n))} refers to non-existent array element")
            if index >= len(node):
                raise out_of_range(f"JSON Pointer {quote_string(_prefix(text, n))} is out-of-range for array of size {len(node)}")
            node = node[index]
        else:
            raise _not_container(text, n, node)
    return node


def set_pointer(document: Any, text: str, value: Any) -> Any:
    """A copy of `document` (ABSENT: none yet) with the value at `text` replaced by `value`."""
    tokens = parse_pointer(text)
    if not tokens:
        return value
    root = {} if document is ABSENT else copy.deepcopy(document)
    node = root
    for n, token in enumerate(tokens, start=1):
        last = n == len(tokens)
        if isinstance(node, dict):
            if last:
                node[token] = value
            else:
                node = node.setdefault(token, {})
        elif isinstance(node, list):
            index = _array_index(token, text, n)
            if index is None:
                node.append(value if last else {})
                index = len(node) - 1
            elif index >= len(node):
                raise failed_precondition(f"JSON Pointer {quote_string(_prefix(text, n))} is out-of-range for array of size {len(node)}")
            elif last:
                node[index] = value
            node = node[index]
        else:
            raise _not_container(text, n, node)
    return root
