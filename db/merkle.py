"""Merkle tree hashing, proofs and their verification as RFC 9162 (Certificate Transparency 2.0)
defines them, §2.1: SHA-256, leaf hash = SHA-256(0x00 ‖ leaf bytes), interior node hash =
SHA-256(0x01 ‖ left ‖ right), the tree split at the largest power of two smaller than its size.

The tree is kept as the hashes of its *perfect* subtrees: node ``(level, index)`` is the root of
leaves ``[index·2^level, (index+1)·2^level)``; level 0 holds the leaf hashes. Any root or proof then
needs at most O(log² n) stored nodes, fetched in one look-up: the proof algorithms below run once
to learn which nodes they need (their control flow depends on sizes only) and once to hash.

Pure module: no database, no I/O. ``NodeSource`` is any callable mapping a set of node keys to
their hashes (the caller fetches them from wherever it stores them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable

Node = tuple[int, int]  # (level, index)
NodeSource = Callable[[set[Node]], dict[Node, bytes]]
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: the hash of an empty list


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 §2.1.1 leaf hash: SHA-256(0x00 ‖ data), 32 bytes."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1 interior node hash: SHA-256(0x01 ‖ left ‖ right), 32 bytes."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than ``n`` (n ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def _perfect(start: int, end: int) -> Node | None:
    size = end - start
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return level, start >> level
    return None


class _Hasher:
    """Computes subtree roots from perfect nodes; in recording mode it only notes which it needs."""

    def __init__(self, nodes: dict[Node, bytes] | None):
        self.nodes = nodes
        self.wanted: set[Node] = set()

    def root(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range the RFC's recursion produces (start aligned to the split)."""
        if end == start:
            return EMPTY_ROOT
        node = _perfect(start, end)
        if node is not None:
            if self.nodes is None:
                self.wanted.add(node)
                return b""
            return self.nodes[node]
        k = _split(end - start)
        return node_hash(self.root(start, start + k), self.root(start + k, end))


def _run(algorithm: Callable[[_Hasher], list[bytes]], source: NodeSource) -> list[bytes]:
    recorder = _Hasher(None)
    algorithm(recorder)
    return algorithm(_Hasher(source(recorder.wanted)))


def root(size: int, source: NodeSource) -> bytes:
    """MTH of the first ``size`` leaves (RFC 9162 §2.1.1)."""
    return _run(lambda h: [h.root(0, size)], source)[0]


def _path(h: _Hasher, m: int, start: int, end: int) -> list[bytes]:
    if end - start <= 1:
        return []
    k = _split(end - start)
    if m < start + k:
        return [*_path(h, m, start, start + k), h.root(start + k, end)]
    return [*_path(h, m, start + k, end), h.root(start, start + k)]


def inclusion_proof(index: int, size: int, source: NodeSource) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 9162 §2.1.3.1, leaf-side first; requires 0 ≤ index < size."""
    if not 0 <= index < size:
        raise ValueError("index must be below the tree size")
    return _run(lambda h: _path(h, index, 0, size), source)


def _subproof(h: _Hasher, m: int, start: int, end: int, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [h.root(start, end)]
    k = _split(n)
    if m <= k:
        return [*_subproof(h, m, start, start + k, complete), h.root(start + k, end)]
    return [*_subproof(h, m - k, start + k, end, False), h.root(start, start + k)]


def consistency_proof(first: int, second: int, source: NodeSource) -> list[bytes]:
    """PROOF(first, D[0:second]) of RFC 9162 §2.1.4.1; requires 0 < first ≤ second
    (empty when first == second)."""
    if not 0 < first <= second:
        raise ValueError("need 0 < first <= second")
    return _run(lambda h: _subproof(h, first, 0, second, True), source)


def verify_inclusion(index: int, size: int, leaf: bytes, path: Iterable[bytes], root_hash: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does ``path`` prove leaf hash ``leaf`` at ``index`` in the tree of
    ``size`` leaves whose root is ``root_hash``?"""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r == root_hash


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: list[bytes]
) -> bool:
    """RFC 9162 §2.1.4.2: does ``proof`` show the tree of ``first`` leaves with root ``first_root``
    is a prefix of the tree of ``second`` leaves with root ``second_root``?"""
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    if first & (first - 1) == 0:
        proof = [first_root, *proof]
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr == first_root and sr == second_root


def new_nodes(start: int, leaves: list[bytes], source: NodeSource) -> dict[Node, bytes]:
    """Every perfect node completed by appending ``leaves`` at ``start``: level 0 included.
    Older left siblings come from ``source``."""
    end = start + len(leaves)
    made: dict[Node, bytes] = {(0, start + i): h for i, h in enumerate(leaves)}
    old: dict[Node, bytes] = {}
    level = 0
    while (end >> (level + 1)) > (start >> (level + 1)):
        level += 1
        first, last = start >> level, (end >> level) - 1
        children = {(level - 1, j) for i in range(first, last + 1) for j in (2 * i, 2 * i + 1)}
        missing = children - made.keys() - old.keys()
        if missing:
            old.update(source(missing))
        for i in range(first, last + 1):
            pair = [made.get(c) or old[c] for c in ((level - 1, 2 * i), (level - 1, 2 * i + 1))]
            made[(level, i)] = node_hash(*pair)
    return made


class CompactRange:
    """The roots of the perfect subtrees covering the leaves added so far (RFC 9162's tree grown
    one leaf at a time): O(log n) memory, for recomputing a whole log in one pass."""

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        self._stack.append(leaf)
        self.size += 1
        n = self.size
        while n & 1 == 0:
            right = self._stack.pop()
            self._stack[-1] = node_hash(self._stack[-1], right)
            n >>= 1

    def root(self) -> bytes:
        """MTH of the leaves added so far."""
        if not self._stack:
            return EMPTY_ROOT
        r = self._stack[-1]
        for left in reversed(self._stack[:-1]):
            r = node_hash(left, r)
        return r
