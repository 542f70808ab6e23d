"""Ed25519 keys: the workspace's signing key on disk, public keys as recorded, verification."""

from __future__ import annotations

import base64
import functools
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from clearance.errors import UsageError


def key_id(public_raw: bytes) -> str:
    """A key is named by the sha256 of its raw 32-byte public key."""
    return "sha256:" + hashlib.sha256(public_raw).hexdigest()


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey

    @functools.cached_property  # every checkpoint names its key: derived once per key
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )

    @functools.cached_property
    def key_id(self) -> str:
        return key_id(self.public_raw)

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(Ed25519PrivateKey.generate())

    def save(self, path: Path) -> None:
        """Write the private key readable by its owner only (0600), atomically."""
        pem = self.private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(pem)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)

    @classmethod
    def from_pem(cls, data: bytes, where: str) -> SigningKey:
        """The unencrypted Ed25519 private key in PEM `data` (from `where`, for messages)."""
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except (TypeError, ValueError, UnsupportedAlgorithm) as exc:
            raise UsageError(
                f"{where}: not a readable private key ({exc}); {_PRIVATE_HELP}"
            ) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise UsageError(f"{where}: not an Ed25519 private key; {_PRIVATE_HELP}")
        return cls(key)

    @classmethod
    def load(cls, path: Path) -> SigningKey:
        """The unencrypted Ed25519 private key in PEM file `path`.

        A missing, unreadable or wrong kind of file is bad input (UsageError), not an
        integrity failure: nothing recorded failed to verify. A public key is named as such,
        with the private file it was most likely written next to.
        """
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise UsageError(f"no signing key at {path}; run `clearance init`") from None
        except OSError as exc:
            raise UsageError(
                f"cannot read the signing key {path} ({exc.strerror or exc}); {_PRIVATE_HELP}"
            ) from None
        if _is_public_key(data):
            raise UsageError(_public_given(path))
        try:
            key = serialization.load_pem_private_key(data, password=None)
        except TypeError:
            raise UsageError(
                f"{path} is an encrypted private key; Clearance signs with an unencrypted one, "
                f"kept readable by you only. {_PRIVATE_HELP}"
            ) from None
        except (ValueError, UnsupportedAlgorithm):
            raise UsageError(f"{path}: not a readable private key; {_PRIVATE_HELP}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise UsageError(
                f"{path}: a {type(key).__name__.removeprefix('_')}, not an Ed25519 private key; "
                f"{_PRIVATE_HELP}"
            )
        return cls(key)


_PRIVATE_HELP = (
    "give the private key file that `clearance keys generate -o FILE` wrote as FILE "
    "(PEM, -----BEGIN PRIVATE KEY-----)"
)


def _is_public_key(data: bytes) -> bool:
    """Whether `data` is a public key: PEM (`-----BEGIN … PUBLIC KEY-----`), an OpenSSH
    public key line, or a raw 32-byte key in base64 on one line (as `people add` accepts)."""
    text = data.strip()
    first_line = text.partition(b"\n")[0]
    if first_line.startswith(b"-----BEGIN") and b"PUBLIC KEY" in first_line:
        return True
    if text.startswith((b"ssh-", b"ecdsa-sha2-")):
        return True
    if b"\n" in text or not text:
        return False
    try:
        return len(base64.b64decode(text, validate=True)) == 32
    except ValueError:  # binascii.Error
        return False


def _public_given(path: Path) -> str:
    private = path.with_suffix("") if path.suffix == ".pub" else None
    instead = (
        f"sign with {private}, the private key it was generated with"
        if private is not None and private.is_file()
        else _PRIVATE_HELP
    )
    return (
        f"{path} is a public key, which can only check signatures; {instead}. "
        "Public keys are for `clearance people add --key` and `clearance keys add`."
    )


def verify(public_raw: bytes, message: bytes, signature: bytes) -> bool:
    """Whether `signature` is a valid Ed25519 signature of `message` by that key."""
    try:
        Ed25519PublicKey.from_public_bytes(public_raw).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def unb64(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)
