"""``ts.ocdbt``: inspecting OCDBT databases (`dump`) and encoding dumps back (`undump_*`)."""

from .kvstore.ocdbt.dump import DistributedCoordinatorServer, dump, undump_manifest, undump_version_tree_node

__all__ = ["DistributedCoordinatorServer", "dump", "undump_manifest", "undump_version_tree_node"]
