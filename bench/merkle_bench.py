"""Merkle root speed: leaves per second for `root()`, and its ratio to the bare cost of the
n - 1 sha256 calls any RFC 9162 root needs, measured in the same run."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from clearance.core.merkle import leaf_hash, root


def _best(fn: Callable[[], object], runs: int = 5) -> float:
    """Best wall time of `runs` calls: the least disturbed by other work on the machine."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def _leaves(n: int) -> list[bytes]:
    return [leaf_hash(i.to_bytes(8, "big")) for i in range(n)]


def bench_root(n: int = 100_000) -> float:
    """Leaves per second for root() over n precomputed leaf hashes (best of 5 runs)."""
    leaves = _leaves(n)
    return n / _best(lambda: root(leaves))


def bench_hash_floor(n: int = 100_000) -> float:
    """Leaves per second if the tree cost only its n - 1 sha256 calls on 65-byte inputs."""
    block = b"\x01" + bytes(64)
    sha = hashlib.sha256

    def hash_only() -> None:
        for _ in range(n - 1):
            sha(block).digest()

    return n / _best(hash_only)


def main(n: int = 100_000) -> dict[str, float]:
    ours, floor = bench_root(n), bench_hash_floor(n)
    return {
        "merkle_root_leaves_per_s": round(ours),
        "merkle_root_ms_for_n": round(1000 * n / ours, 1),
        "merkle_root_ratio_vs_bare_sha256": round(ours / floor, 3),
    }


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key}: {value}")
