"""RFC 9162 hashing and proofs against the transparency-dev/merkle vectors and corrupted proofs."""

from __future__ import annotations

import base64
import json
import random
from pathlib import Path
from typing import Any

import pytest

from ledger import merkle
from ledger.errors import ProofError

VECTORS = json.loads((Path(__file__).parent / "merkle_vectors.json").read_text(encoding="utf-8"))
LEAVES = [merkle.leaf_hash(bytes.fromhex(h)) for h in VECTORS["leaves_hex"]]


def b64(text: str) -> bytes:
    return base64.b64decode(text)


def source_for(leaves: list[bytes]) -> merkle.NodeSource:
    def lookup(level: int, index: int) -> bytes:
        start = index << level
        return merkle.root_from_leaves(leaves[start : start + (1 << level)])

    return lookup


@pytest.mark.parametrize("case", VECTORS["inclusion"], ids=lambda c: c["file"])
def test_inclusion_vectors(case: dict[str, Any]) -> None:
    proof = [b64(p) for p in case["proof"] or []]
    ok = merkle.verify_inclusion(b64(case["leafHash"]), case["leafIdx"], case["treeSize"], proof, b64(case["root"]))
    assert ok is not case["wantErr"]


@pytest.mark.parametrize("case", VECTORS["consistency"], ids=lambda c: c["file"])
def test_consistency_vectors(case: dict[str, Any]) -> None:
    proof = [b64(p) for p in case["proof"] or []]
    ok = merkle.verify_consistency(case["size1"], case["size2"], b64(case["root1"]), b64(case["root2"]), proof)
    assert ok is not case["wantErr"]


@pytest.mark.parametrize("case", [c for c in VECTORS["inclusion"] if not c["wantErr"]], ids=lambda c: c["file"])
def test_generated_inclusion_proofs_equal_the_vectors(case: dict[str, Any]) -> None:
    leaves = LEAVES[: case["treeSize"]]
    assert merkle.root_from_leaves(leaves) == b64(case["root"])
    assert leaves[case["leafIdx"]] == b64(case["leafHash"])
    proof = merkle.inclusion_proof(source_for(leaves), case["leafIdx"], case["treeSize"])
    assert proof == [b64(p) for p in case["proof"] or []]


@pytest.mark.parametrize("case", [c for c in VECTORS["consistency"] if not c["wantErr"]], ids=lambda c: c["file"])
def test_generated_consistency_proofs_equal_the_vectors(case: dict[str, Any]) -> None:
    leaves = LEAVES[: case["size2"]]
    assert merkle.root_from_leaves(leaves[: case["size1"]]) == b64(case["root1"])
    proof = merkle.consistency_proof(source_for(leaves), case["size1"], case["size2"])
    assert proof == [b64(p) for p in case["proof"] or []]


def test_compact_range_matches_recursive_root_and_reports_every_complete_subtree() -> None:
    leaves = [merkle.leaf_hash(str(i).encode()) for i in range(300)]
    tree = merkle.CompactRange()
    stored: dict[tuple[int, int], bytes] = {}
    for i, leaf in enumerate(leaves):
        tree.append(leaf, lambda level, index, digest: stored.__setitem__((level, index), digest))
        assert tree.root() == merkle.root_from_leaves(leaves[: i + 1])
    for (level, index), digest in stored.items():
        assert digest == merkle.root_from_leaves(leaves[index << level : (index + 1) << level])
    assert len(stored) == 300 - bin(300).count("1")  # n - popcount(n) inner complete subtrees
    reloaded = merkle.CompactRange.from_source(300, source_for(leaves))
    assert reloaded.root() == tree.root()


def test_extend_equals_appending_leaf_by_leaf() -> None:
    rng = random.Random(7)
    for _ in range(200):
        before = [merkle.leaf_hash(rng.randbytes(8)) for _ in range(rng.randrange(0, 600))]
        batch = [merkle.leaf_hash(rng.randbytes(8)) for _ in range(rng.randrange(0, 300))]
        one_by_one = merkle.CompactRange()
        for leaf in before:
            one_by_one.append(leaf)
        extended = one_by_one.copy()
        reported: list[tuple[int, int, bytes]] = []

        def report(level: int, index: int, digest: bytes, found: list[tuple[int, int, bytes]] = reported) -> None:
            found.append((level, index, digest))

        for leaf in batch:
            one_by_one.append(leaf, report)
        created = extended.extend(batch, min_level=1)
        assert (extended.size, extended.levels, extended.hashes) == (
            one_by_one.size,
            one_by_one.levels,
            one_by_one.hashes,
        )
        assert sorted(created) == sorted(reported)
        assert extended.root() == merkle.root_from_leaves(before + batch)
        high = merkle.CompactRange.from_source(len(before), source_for(before)).extend(batch, min_level=4)
        assert sorted(high) == sorted(node for node in reported if node[0] >= 4)


def _flip(digest: bytes, bit: int = 0) -> bytes:
    return bytes([digest[0] ^ (1 << bit)]) + digest[1:]


def test_every_proof_verifies_and_every_corruption_is_rejected() -> None:
    rng = random.Random(7)
    leaves = [merkle.leaf_hash(f"event {i}".encode()) for i in range(70)]
    source = source_for(leaves)
    for size in range(1, 71):
        root = merkle.root_from_leaves(leaves[:size])
        for index in range(size):
            proof = merkle.inclusion_proof(source, index, size)
            leaf = leaves[index]
            assert merkle.verify_inclusion(leaf, index, size, proof, root)
            bad = [
                (leaf, index + 1, size, proof, root),  # wrong index
                (leaf, index, size * 2, proof, root),  # wrong size (as the upstream vectors vary it)
                (_flip(leaf), index, size, proof, root),  # flipped leaf bit
                (leaf, index, size, [*proof, leaves[0]], root),  # hash added
                (leaf, index, size, proof, _flip(root, 7)),  # wrong root
            ]
            if index < size // 2:
                bad.append((leaf, index, size // 2, proof, root))
            if proof:
                i = rng.randrange(len(proof))
                bad.append((leaf, index, size, proof[:-1], root))  # hash missing
                bad.append((leaf, index, size, [*proof[:i], _flip(proof[i], 3), *proof[i + 1 :]], root))
            for case in bad:
                assert not merkle.verify_inclusion(*case), (index, size, case[1:3])
        for old in range(size + 1):
            old_root = merkle.root_from_leaves(leaves[:old])
            proof = merkle.consistency_proof(source, old, size)
            assert merkle.verify_consistency(old, size, old_root, root, proof)
            if old in (0, size):
                continue
            assert not merkle.verify_consistency(old, size, root, old_root, proof)  # swapped roots
            # wrong sizes, varied as the upstream vectors vary them (size2 * 2, size1 * 2)
            assert not merkle.verify_consistency(old, size * 2, old_root, root, proof)
            if old * 2 < size:
                assert not merkle.verify_consistency(old * 2, size, old_root, root, proof)
            assert not merkle.verify_consistency(old, size, old_root, root, [*proof, leaves[0]])  # added
            assert not merkle.verify_consistency(old, size, old_root, root, proof[:-1])  # missing
            i = rng.randrange(len(proof))
            flipped = [*proof[:i], _flip(proof[i], 5), *proof[i + 1 :]]
            assert not merkle.verify_consistency(old, size, old_root, root, flipped)


def test_proofs_refuse_impossible_requests() -> None:
    source = source_for(LEAVES)
    with pytest.raises(ProofError):
        merkle.inclusion_proof(source, 8, 8)
    with pytest.raises(ProofError):
        merkle.consistency_proof(source, 5, 4)
    assert merkle.root_from_leaves([]) == merkle.EMPTY_ROOT
