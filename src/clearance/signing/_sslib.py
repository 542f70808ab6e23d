"""securesystemslib's DSSE envelope and signer, imported without the AWS SDK.

`securesystemslib.signer` imports boto3 (about 0.17 s, most of a signed command's start-up)
only to offer an AWS KMS signer that Clearance never uses. While it is imported, boto3 is
made unimportable; afterwards it imports as usual (the S3 blob store needs it).
"""

from __future__ import annotations

import sys

_blocked = "boto3" not in sys.modules
if _blocked:
    sys.modules["boto3"] = None  # type: ignore[assignment]  # makes `import boto3` fail
try:
    from securesystemslib.dsse import Envelope
    from securesystemslib.signer import CryptoSigner, SSlibKey  # type: ignore[attr-defined]
finally:
    if _blocked and sys.modules.get("boto3", False) is None:
        del sys.modules["boto3"]

__all__ = ["CryptoSigner", "Envelope", "SSlibKey"]
