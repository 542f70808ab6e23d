"""A person's own key pair on this machine, kept outside every workspace."""

from __future__ import annotations

import re
from pathlib import Path

from clearance.settings import Settings
from clearance.signing import SigningKey


def own_identity(settings: Settings, name: str) -> tuple[SigningKey, Path, bool]:
    """(key, path, created): the private key `name` signs with on this machine, made on
    first use under `settings.home/keys/` (folder mode 700, key mode 600)."""
    folder = settings.home / "keys"
    path = folder / (re.sub(r"[^a-z0-9@._-]", "_", name) + ".pem")
    if path.is_file():
        return SigningKey.load(path), path, False
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    key = SigningKey.generate()
    key.save(path)
    from clearance.signing.statements import public_key_pem

    path.with_name(path.name + ".pub").write_text(public_key_pem(key.public_raw))
    return key, path, True
