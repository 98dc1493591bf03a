"""RFC 9162 Merkle tree hashing, proofs and their verification.

The tree is the proof that nothing was edited, removed, reordered or cut off:
any such change alters the root, and roots are signed and copied outside the
database. Proof *generation* works on any `NodeSource` (the store keeps every
complete subtree, so each node is one lookup); *verification* needs nothing but
hashlib, so auditors can re-implement it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

from ledger.errors import ProofError

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()

# (level, index) -> hash of the complete subtree covering leaves [index*2**level, (index+1)*2**level)
NodeSource = Callable[[int, int], bytes]


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def _largest_power_of_two_below(n: int) -> int:
    """Largest power of two strictly smaller than n (n >= 2): RFC 9162's split point k."""
    return 1 << ((n - 1).bit_length() - 1)


def root_from_leaves(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, computed bottom-up (used by verify and tests)."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    # Pairing from the left while carrying an odd last node up is exactly RFC 9162's
    # recursive split for every size.
    while len(level) > 1:
        nxt = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


class CompactRange:
    """The right border of the tree: one hash per set bit of the size, highest first.

    Appending a leaf merges equal-sized neighbours; each merge is a new complete
    subtree the store persists (reported through `on_node`).
    """

    __slots__ = ("hashes", "levels", "size")

    def __init__(self, size: int = 0, levels: list[int] | None = None, hashes: list[bytes] | None = None) -> None:
        self.size = size
        self.levels = levels or []
        self.hashes = hashes or []

    @classmethod
    def from_source(cls, size: int, source: NodeSource) -> CompactRange:
        levels: list[int] = []
        hashes: list[bytes] = []
        start = 0
        for level in range(size.bit_length() - 1, -1, -1):
            if size >> level & 1:
                levels.append(level)
                hashes.append(source(level, start >> level))
                start += 1 << level
        return cls(size, levels, hashes)

    def copy(self) -> CompactRange:
        return CompactRange(self.size, list(self.levels), list(self.hashes))

    def append(self, leaf: bytes, on_node: Callable[[int, int, bytes], None] | None = None) -> None:
        levels, hashes = self.levels, self.hashes
        index = self.size
        level = 0
        current = leaf
        while levels and levels[-1] == level:
            levels.pop()
            current = hashlib.sha256(NODE_PREFIX + hashes.pop() + current).digest()
            level += 1
            index >>= 1
            if on_node is not None:
                on_node(level, index, current)
        levels.append(level)
        hashes.append(current)
        self.size += 1

    def extend(self, leaves: Sequence[bytes], min_level: int = 1) -> list[tuple[int, int, bytes]]:
        """Append many leaves at once; returns the new complete subtrees (level, index, hash) at >= min_level.

        Same result as `append` per leaf, but built level by level with one list
        comprehension per level instead of a Python call per leaf: at level L the
        new nodes start at index size >> L, preceded by the border node of that
        level when bit L of the old size is set.
        """
        if not leaves:
            return []
        borders = dict(zip(self.levels, self.hashes, strict=True))
        new_border: list[tuple[int, bytes]] = []
        created: list[tuple[int, int, bytes]] = []
        sha256 = hashlib.sha256
        current: list[bytes] = list(leaves)
        start = self.size
        level = 0
        while current:
            if start & 1:
                current.insert(0, borders.pop(level))
                start -= 1
            if len(current) & 1:
                new_border.append((level, current[-1]))
            pairs = iter(current)
            current = [sha256(NODE_PREFIX + left + right).digest() for left, right in zip(pairs, pairs, strict=False)]
            level += 1
            start >>= 1
            if level >= min_level:
                created.extend((level, start + offset, digest) for offset, digest in enumerate(current))
        # borders above the last level touched are unchanged; all of them are higher than the new ones
        kept = sorted(borders.items(), reverse=True)
        new_border.reverse()
        self.levels = [lv for lv, _ in kept] + [lv for lv, _ in new_border]
        self.hashes = [h for _, h in kept] + [h for _, h in new_border]
        self.size += len(leaves)
        return created

    def root(self) -> bytes:
        if not self.hashes:
            return EMPTY_ROOT
        hashes = self.hashes
        current = hashes[-1]
        for i in range(len(hashes) - 2, -1, -1):
            current = hashlib.sha256(NODE_PREFIX + hashes[i] + current).digest()
        return current


def subtree_hash(source: NodeSource, start: int, end: int) -> bytes:
    """MTH of leaves [start, end) where start is aligned as in RFC 9162's recursion."""
    size = end - start
    if size <= 0:
        return EMPTY_ROOT
    if size & (size - 1) == 0 and start % size == 0:
        return source(size.bit_length() - 1, start // size)
    k = _largest_power_of_two_below(size)
    return node_hash(subtree_hash(source, start, start + k), subtree_hash(source, start + k, end))


def root_from_source(source: NodeSource, size: int) -> bytes:
    return subtree_hash(source, 0, size)


def inclusion_proof(source: NodeSource, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 section 2.1.3.1."""
    if not 0 <= index < size:
        raise ProofError(f"leaf index {index} is outside a tree of size {size}")
    path: list[bytes] = []
    start, end = 0, size
    while end - start > 1:
        k = _largest_power_of_two_below(end - start)
        if index < start + k:
            path.append(subtree_hash(source, start + k, end))
            end = start + k
        else:
            path.append(subtree_hash(source, start, start + k))
            start += k
    path.reverse()
    return path


def consistency_proof(source: NodeSource, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 9162 section 2.1.4.1."""
    if not 0 <= old_size <= new_size:
        raise ProofError(f"no consistency proof from size {old_size} to size {new_size}")
    if old_size in (0, new_size):
        return []
    proof: list[bytes] = []
    start, end, m, complete = 0, new_size, old_size, True
    while True:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree_hash(source, start, end))
            break
        k = _largest_power_of_two_below(n)
        if m <= k:
            proof.append(subtree_hash(source, start + k, end))
            end = start + k
        else:
            proof.append(subtree_hash(source, start, start + k))
            start += k
            m -= k
            complete = False
    proof.reverse()
    return proof


def verify_inclusion(leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2; False on any mismatch or malformed proof."""
    if not 0 <= index < size or any(len(p) != 32 for p in proof):
        return False
    fn, sn = index, size - 1
    r = leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 section 2.1.4.2, with the edge cases of equal sizes and an empty old tree."""
    if not 0 <= old_size <= new_size or any(len(p) != 32 for p in proof):
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if old_size == 0:
        return not proof
    if not proof:
        return False
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
