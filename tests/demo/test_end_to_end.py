"""`clearance demo` through the real command: ends in GO with a pack that verifies."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

CLEARANCE = str(Path(sys.executable).with_name("clearance"))


def test_demo_ends_with_go_and_a_verifiable_pack(tmp_path: Path) -> None:
    """The last lines are `Attestation: PATH`, `Decision: GO`, `Workspace key: PATH` and
    `Audit pack: PATH`; the attestation and the pack verify against that key, one changed
    byte of either fails, and the pack is not vouched for without a key to trust."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
    proc = subprocess.run(
        [CLEARANCE, "demo", str(tmp_path / "demo")],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[-3] == "Decision: GO"
    key = Path(lines[-2].removeprefix("Workspace key: "))
    assert key.is_absolute() and key.is_file()
    pack = Path(lines[-1].removeprefix("Audit pack: "))
    assert pack.is_absolute() and pack.is_file()
    assert "NO-GO" in proc.stdout  # the story shows the gate refusing first
    assert "Rejected candidate" in proc.stdout  # and a rejection that the fixed plan answers

    attestation = Path(lines[-4].removeprefix("Attestation: "))
    demo = attestation.parent
    assert key == demo / "keys/clearance-workspace.pub"
    model = "sha256:" + hashlib.sha256((demo / "models/model.pkl").read_bytes()).hexdigest()
    args = [
        "attestation",
        "verify",
        "--subject",
        model,
        "--key",
        str(key),
    ]
    ok = subprocess.run(
        [CLEARANCE, *args[:2], str(attestation), *args[2:]], capture_output=True, text=True, env=env
    )
    assert ok.returncode == 0, ok.stderr
    data = bytearray(attestation.read_bytes())
    i = data.index(b'"payload": "') + 20  # one byte inside the signed payload
    data[i] = ord("A") if data[i] != ord("A") else ord("B")
    forged = tmp_path / "forged.json"
    forged.write_bytes(bytes(data))
    bad = subprocess.run(
        [CLEARANCE, *args[:2], str(forged), *args[2:]], capture_output=True, text=True, env=env
    )
    assert bad.returncode == 3, bad.stderr
    assert "Traceback" not in bad.stderr
    verify = subprocess.run(
        [CLEARANCE, "pack", "verify", str(pack), "--key", str(key)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert verify.returncode == 0, verify.stderr
    unpinned = subprocess.run(
        [CLEARANCE, "pack", "verify", str(pack)], capture_output=True, text=True, env=env
    )
    assert unpinned.returncode == 2, unpinned.stderr

    with zipfile.ZipFile(pack) as zf:
        content = {n: zf.read(n) for n in zf.namelist()}
    evidence = next(n for n in content if n.startswith("evidence/files/"))
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in content.items():
            zf.writestr(name, data[:-1] + bytes([data[-1] ^ 1]) if name == evidence else data)
    verify = subprocess.run(
        [CLEARANCE, "pack", "verify", str(bad), "--key", str(key)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert verify.returncode == 3
    assert evidence in verify.stderr
