"""Content-addressed storage of evidence bytes, and the digests that name them."""

from clearance.blobs.base import BlobStore, StoredBlob
from clearance.blobs.cache import DigestCache
from clearance.blobs.filesystem import FilesystemBlobStore
from clearance.blobs.hashing import check_digest, file_digest

__all__ = [
    "BlobStore",
    "DigestCache",
    "FilesystemBlobStore",
    "StoredBlob",
    "check_digest",
    "file_digest",
]
