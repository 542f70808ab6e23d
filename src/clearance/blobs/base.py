"""What every blob store offers: content-addressed, write-once storage of evidence bytes."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, BinaryIO, Protocol

from clearance.blobs.hashing import Progress

if TYPE_CHECKING:
    from clearance.blobs.cache import DigestCache


@dataclass(frozen=True)
class StoredBlob:
    """A blob as stored: its "sha256:<hex>" digest and its size in bytes. A small blob read
    but not stored yet carries its bytes (`data`), for the transaction of its record."""

    digest: str
    size: int
    data: bytes | None = field(default=None, repr=False, compare=False)


class BlobStore(Protocol):
    """Blobs are named by the digest of their content and never change once written.

    This is everything the services, clients and exports use of a blob store; a store for
    S3-compatible object storage offers the same.
    """

    #: digests of files already hashed, by (device, inode, size, mtime); None when unused
    cache: DigestCache | None

    def put_file(
        self, path: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> StoredBlob: ...

    def put_files(self, paths: Sequence[str | os.PathLike[str]]) -> list[StoredBlob]: ...

    def put_bytes(self, data: bytes) -> StoredBlob: ...

    def open(self, digest: str) -> BinaryIO: ...

    def exists(self, digest: str) -> bool: ...

    def verify(self) -> list[str]: ...

    def verify_one(self, digest: str) -> bool: ...

    def remove_temp(self, older_than: float = 3600.0) -> int: ...
