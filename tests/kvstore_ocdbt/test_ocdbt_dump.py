"""``ts.ocdbt.dump`` / ``undump_*``: the same JSON as tensorstore 0.1.86 gives for the same
database, and undumping gives back the stored bytes."""

from __future__ import annotations

import pytest

import tensorstore_py as ts

rts = pytest.importorskip("tensorstore")


@pytest.mark.parametrize("writer", ["mine", "theirs"])
def test_dump_matches_reference(tmp_path, writer):
    lib = ts if writer == "mine" else rts
    spec = {"driver": "ocdbt", "base": tmp_path.as_uri(),
            "config": {"max_inline_value_bytes": 4, "max_decoded_node_bytes": 120, "version_tree_arity_log2": 1}}
    kv = lib.KvStore.open(spec).result()
    for i in range(7):
        kv[f"key{i}"] = b"v" * i
    mine_base = ts.KvStore.open(tmp_path.as_uri() + "/").result()
    ref_base = rts.KvStore.open(tmp_path.as_uri() + "/").result()
    manifest = ts.ocdbt.dump(mine_base).result()
    assert manifest == rts.ocdbt.dump(ref_base).result()
    assert ts.ocdbt.undump_manifest(manifest) == (tmp_path / "manifest.ocdbt").read_bytes()
    pending = [manifest["versions"][-1]["root"]["location"]] + [n["location"] for n in manifest["version_tree_nodes"]]
    seen = 0
    while pending:
        location = pending.pop()
        node = ts.ocdbt.dump(mine_base, location).result()
        assert node == rts.ocdbt.dump(ref_base, location).result()
        seen += 1
        if isinstance(node, dict):
            for e in node["entries"]:
                for member in ("location", "indirect_value"):
                    if member in e:
                        pending.append(e[member])
            if location.startswith("versionnode"):
                encoded = ts.ocdbt.undump_version_tree_node(manifest["config"], node)
                assert encoded == rts.ocdbt.undump_version_tree_node(manifest["config"], node)
    assert seen > 5


def test_dump_errors():
    base = ts.KvStore.open("memory://").result()
    with pytest.raises(ValueError, match="NOT_FOUND: Manifest not found"):
        ts.ocdbt.dump(base).result()
    with pytest.raises(ValueError, match='Invalid indirect data reference: "x"'):
        ts.ocdbt.dump(base, "x").result()
