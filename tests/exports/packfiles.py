"""A released pack whose environments list packages, extracted, for the tests of the files
that other tools read (VERIFY.md, SHA256SUMS, report.pdf, OSCAL, CycloneDX)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any, NamedTuple

from tests.builders import (
    approve_release,
    export,
    load,
    open_workspace,
    plan_document,
    register_signers,
    release,
    write_plan_folder,
)

PACKAGES = {"scikit-learn": "1.5.2", "numpy": "2.1.0", "Typing_Extensions": "4.12.2"}


class Extracted(NamedTuple):
    zip: Path
    folder: Path
    files: dict[str, bytes]
    key: bytes

    def json(self, name: str) -> Any:
        return json.loads(self.files[name])


def released_pack_with_packages(top: Path) -> Extracted:
    """A released candidate's pack whose source and target manifests list packages, extracted
    into `top/pack`, with the workspace's raw public key."""
    document = plan_document()
    document["environments"]["production"]["manifest"]["packages"] = PACKAGES
    ws = open_workspace(top / ".clearance")
    register_signers(ws)
    plan = write_plan_folder(top / "p", document=document)
    staging = json.loads((top / "p/env/staging.json").read_text())
    (top / "p/env/staging.json").write_text(json.dumps({**staging, "packages": PACKAGES}))
    local = load(ws, plan)
    approve_release(ws, local)
    release(ws, local)
    pack = top / "pack.zip"
    export(ws, local, pack)
    key = ws.signing_key.public_raw
    ws.close()
    with zipfile.ZipFile(pack) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
        zf.extractall(top / "pack")
    return Extracted(pack, top / "pack", files, key)
