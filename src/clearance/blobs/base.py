"""What every blob store offers: content-addressed, write-once storage of evidence bytes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import BinaryIO, Protocol

from clearance.blobs.hashing import Progress


@dataclass(frozen=True)
class StoredBlob:
    """A blob as stored: its "sha256:<hex>" digest and its size in bytes."""

    digest: str
    size: int


class BlobStore(Protocol):
    """Blobs are named by the digest of their content and never change once written."""

    def put_file(
        self, path: str | os.PathLike[str], *, progress: Progress | None = None
    ) -> StoredBlob: ...

    def put_bytes(self, data: bytes) -> StoredBlob: ...

    def open(self, digest: str) -> BinaryIO: ...

    def exists(self, digest: str) -> bool: ...

    def verify(self) -> list[str]: ...

    def verify_one(self, digest: str) -> bool: ...
