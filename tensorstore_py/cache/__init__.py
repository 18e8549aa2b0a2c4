"""The async cache layer: staged writes, transactions and the one read-modify-write.

`rmw.read_modify_write` is the only conditional read-modify-write loop; `staging` collects
mutations of one key into nodes (per transaction, or serialised per key outside one);
`transaction.Transaction` is ``ts.Transaction``; `chunk_cache` keeps decoded read state and
`metadata` the shared metadata entries of a context's cache pool.
"""

from .rmw import UNCHANGED, read_modify_write
from .staging import KeyNode, Mutation, UpdateMutation, ValueMutation, write_now
from .transaction import Transaction

__all__ = [
    "UNCHANGED", "read_modify_write", "KeyNode", "Mutation", "UpdateMutation", "ValueMutation",
    "write_now", "Transaction",
]  # fmt: skip
