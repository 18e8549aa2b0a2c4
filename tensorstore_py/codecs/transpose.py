"""The ``transpose`` array -> array codec: a permutation of the dimensions.

``order[i]`` names the decoded dimension that becomes encoded dimension ``i``.  Both directions
are numpy views, so the permutation costs nothing until the array -> bytes codec copies the
elements (and there the `_ext.copy` kernels walk the transposed source in cache-sized tiles).
``order`` may also be ``"C"`` (identity) or ``"F"`` (reversal), resolved against the rank.
"""

from __future__ import annotations

from typing import Sequence, Union

import numpy as np

from ..errors import invalid_argument
from .chain import ArrayToArrayCodec, format_vector

__all__ = ["TransposeCodec", "is_permutation"]


def is_permutation(order: Sequence[int]) -> bool:
    return sorted(order) == list(range(len(order)))


class TransposeCodec(ArrayToArrayCodec):
    def __init__(self, order: Union[Sequence[int], str]):
        if isinstance(order, str):
            if order not in ("C", "F"):
                raise invalid_argument(f'Expected one of "C", "F", but received: "{order}"')
            self.order: Union[tuple[int, ...], str] = order
        else:
            perm = tuple(int(i) for i in order)
            if not is_permutation(perm):
                raise invalid_argument(f"{format_vector(perm)} is not a valid permutation")
            self.order = perm
        self._inverse: tuple[int, ...] = ()

    def __repr__(self) -> str:
        return f"TransposeCodec({self.order!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is TransposeCodec and other.order == self.order  # type: ignore

    def __hash__(self) -> int:
        return hash(("transpose", self.order))

    def permutation(self, rank: int) -> tuple[int, ...]:
        if self.order == "C":
            return tuple(range(rank))
        if self.order == "F":
            return tuple(range(rank - 1, -1, -1))
        return self.order  # type: ignore[return-value]

    def resolve(self, shape: tuple[int, ...], dtype: np.dtype
                ) -> tuple["TransposeCodec", tuple[int, ...], np.dtype]:
        perm = self.permutation(len(shape))
        if len(perm) != len(shape):
            raise invalid_argument(f"{format_vector(perm)} is not a valid dimension permutation "
                                   f"for a rank {len(shape)} array")
        bound = TransposeCodec(perm)
        inverse = [0] * len(perm)
        for i, p in enumerate(perm):
            inverse[p] = i
        bound._inverse = tuple(inverse)
        return bound, tuple(shape[p] for p in perm), dtype

    def encode_array(self, array: np.ndarray) -> np.ndarray:
        return array.transpose(self.order)

    def decode_array(self, array: np.ndarray) -> np.ndarray:
        return array.transpose(self._inverse)
