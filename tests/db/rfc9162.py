"""An RFC 9162 (§2.1) Merkle tree reference written for the tests from the RFC's text alone: the
tree hash by its recursive definition and the two verification algorithms (§2.1.3.2, §2.1.4.2).
It shares no code with db.merkle."""

from __future__ import annotations

import hashlib


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def leaf(entry: bytes) -> bytes:
    return sha256(b"\x00" + entry)


def interior(left: bytes, right: bytes) -> bytes:
    return sha256(b"\x01" + left + right)


def mth(leaf_hashes: list[bytes]) -> bytes:
    """MTH(D[n]) over already-hashed leaves."""
    n = len(leaf_hashes)
    if n == 0:
        return sha256(b"")
    if n == 1:
        return leaf_hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return interior(mth(leaf_hashes[:k]), mth(leaf_hashes[k:]))


def _shift_until_odd_or_zero(fn: int, sn: int) -> tuple[int, int]:
    while fn % 2 == 0 and fn != 0:
        fn //= 2
        sn //= 2
    return fn, sn


def inclusion_ok(leaf_index: int, tree_size: int, leaf_hash: bytes, path: list[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2, step by step."""
    if leaf_index >= tree_size:
        return False
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = interior(p, r)
            if fn % 2 == 0:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            r = interior(r, p)
        fn //= 2
        sn //= 2
    return sn == 0 and r == root


def consistency_ok(first: int, second: int, first_hash: bytes, second_hash: bytes, path: list[bytes]) -> bool:
    """RFC 9162 §2.1.4.2, step by step (for 0 < first < second)."""
    if not path:
        return False
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn //= 2
        sn //= 2
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = interior(c, fr), interior(c, sr)
            if fn % 2 == 0:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            sr = interior(sr, c)
        fn //= 2
        sn //= 2
    return fr == first_hash and sr == second_hash and sn == 0
