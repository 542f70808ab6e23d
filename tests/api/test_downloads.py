"""Pack downloads leave no temporary folder behind: once sent, or when writing fails."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest


def _app():  # type: ignore[no-untyped-def]
    from fastapi import FastAPI

    from clearance.api.render import zip_download

    app = FastAPI()

    def write(out: Path) -> str:
        out.write_bytes(b"PK\x05\x06" + bytes(18))
        return "sha256:" + "ab" * 32

    def fail(out: Path) -> str:
        out.write_bytes(b"half a pack")
        raise RuntimeError("the export failed")

    @app.get("/good")
    def good():  # type: ignore[no-untyped-def]
        return zip_download(write, lambda digest: f"pack-{digest[7:19]}.zip")

    @app.get("/bad")
    def bad():  # type: ignore[no-untyped-def]
        return zip_download(fail)

    return app


def test_a_sent_pack_and_a_failed_one_leave_no_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fastapi.testclient import TestClient

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with TestClient(_app(), raise_server_exceptions=False) as http:
        sent = http.get("/good")
        assert sent.status_code == 200
        assert sent.headers["content-type"] == "application/zip"
        assert 'filename="pack-abababababab.zip"' in sent.headers["content-disposition"]
        assert list(tmp_path.iterdir()) == []
        assert http.get("/bad").status_code == 500
        assert list(tmp_path.iterdir()) == []
