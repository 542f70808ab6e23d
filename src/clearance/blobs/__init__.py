"""Content-addressed storage of evidence bytes, and the digests that name them."""

from typing import TYPE_CHECKING

from clearance.blobs.base import BlobStore, StoredBlob
from clearance.blobs.cache import DigestCache
from clearance.blobs.filesystem import FilesystemBlobStore
from clearance.blobs.hashing import check_digest, file_digest
from clearance.blobs.urls import open_blob_store

if TYPE_CHECKING:
    from clearance.blobs.s3 import S3BlobStore

__all__ = [
    "BlobStore",
    "DigestCache",
    "FilesystemBlobStore",
    "S3BlobStore",
    "StoredBlob",
    "check_digest",
    "file_digest",
    "open_blob_store",
]


def __getattr__(name: str) -> object:
    # Loaded on first use, so that importing clearance.blobs never loads boto3.
    if name == "S3BlobStore":
        from clearance.blobs.s3 import S3BlobStore

        return S3BlobStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
