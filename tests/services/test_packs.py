"""Audit packs that are not packs at all, and exports to places that are not files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from clearance.errors import IntegrityError, UsageError
from clearance.exports.pack import verify_pack
from clearance.signing import SigningKey

TRUSTED = {SigningKey.generate().public_raw}  # these packs fail before whose key matters


def zip_with(path: Path, files: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "pack.zip"
    path.write_text("hello")
    with pytest.raises(IntegrityError, match="not a readable zip file"):
        verify_pack(path, trusted=TRUSTED)


def test_missing_pack(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        verify_pack(tmp_path / "nope.zip", trusted=TRUSTED)


def test_zip_without_manifest(tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match=r"no manifest\.json; this is not a Clearance"):
        verify_pack(zip_with(tmp_path / "p.zip", {"a.txt": b"x"}), trusted=TRUSTED)


def test_manifest_that_is_not_a_manifest(tmp_path: Path) -> None:
    with pytest.raises(IntegrityError, match=r"manifest\.json is not a valid manifest"):
        verify_pack(zip_with(tmp_path / "p.zip", {"manifest.json": b"[1, 2]"}), trusted=TRUSTED)


def test_added_and_missing_files_are_named(tmp_path: Path) -> None:
    manifest = {"format": "clearance-audit-pack/1", "files": {"gone.json": {"sha256": "0"}}}
    failures = verify_pack(
        zip_with(
            tmp_path / "p.zip", {"manifest.json": json.dumps(manifest).encode(), "extra.txt": b"x"}
        ),
        trusted=TRUSTED,
    )
    assert "extra.txt: in the pack but not in the manifest (file added)" in failures
    assert "gone.json: listed in the manifest but missing from the pack" in failures
