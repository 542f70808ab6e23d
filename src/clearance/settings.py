"""Settings, read from `CLEARANCE_*` environment variables and passed in explicitly."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

WORKSPACE_DIRNAME = ".clearance"


@dataclass(frozen=True)
class Settings:
    """Where the workspace lives and how big inputs may be.

    `database_url` points at PostgreSQL for teams; by default the workspace's own SQLite
    file is used.
    """

    workspace: Path = field(default_factory=lambda: Path.cwd() / WORKSPACE_DIRNAME)
    database_url: str | None = None
    #: the name `init` gives the first administrator when none is given
    user: str | None = None
    max_plan_bytes: int = 1024 * 1024
    max_document_bytes: int = 64 * 1024 * 1024
    #: the workspace's signing key: a PEM file, or the PEM itself (e.g. from a secret store)
    workspace_key_file: Path | None = None
    workspace_key_pem: str | None = None
    #: the acting person's private key (`--identity`, CLEARANCE_IDENTITY)
    identity: Path | None = None
    #: where `init` keeps the key pairs it generates for people (outside any workspace)
    home: Path = field(default_factory=lambda: Path.home() / ".config" / "clearance")
    #: a team deployment's blob store: `file:///path` or `s3://bucket/prefix`
    blob_url: str | None = None
    #: the endpoint of S3-compatible storage (MinIO, Ceph, a local test server)
    s3_endpoint: str | None = None
    #: the Clearance server the CLI talks to instead of a local workspace, and its token
    server: str | None = None
    token: str | None = None
    #: the largest evidence file the server accepts in one upload
    max_upload_bytes: int = 4 << 30

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, workspace: Path | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        root = workspace or (
            Path(env["CLEARANCE_WORKSPACE"])
            if env.get("CLEARANCE_WORKSPACE")
            else Path.cwd() / WORKSPACE_DIRNAME
        )
        home = env.get("CLEARANCE_HOME") or (
            str(Path(env["XDG_CONFIG_HOME"]) / "clearance") if env.get("XDG_CONFIG_HOME") else None
        )
        key_file = env.get("CLEARANCE_WORKSPACE_KEY")
        identity = env.get("CLEARANCE_IDENTITY")
        return cls(
            workspace=root.absolute(),
            database_url=env.get("CLEARANCE_DATABASE_URL") or None,
            user=env.get("CLEARANCE_USER") or None,
            workspace_key_file=Path(key_file).absolute() if key_file else None,
            workspace_key_pem=env.get("CLEARANCE_WORKSPACE_KEY_PEM") or None,
            identity=Path(identity).absolute() if identity else None,
            blob_url=env.get("CLEARANCE_BLOB_URL") or None,
            s3_endpoint=env.get("CLEARANCE_S3_ENDPOINT_URL") or None,
            server=env.get("CLEARANCE_SERVER") or None,
            token=env.get("CLEARANCE_TOKEN") or None,
            max_upload_bytes=_size(env["CLEARANCE_MAX_UPLOAD_BYTES"])
            if env.get("CLEARANCE_MAX_UPLOAD_BYTES")
            else cls.max_upload_bytes,
            home=Path(home).absolute() if home else Path.home() / ".config" / "clearance",
        )

    @property
    def team(self) -> bool:
        """A team deployment: its own database and blob store, no workspace folder needed."""
        return self.database_url is not None and self.blob_url is not None

    @property
    def key_path(self) -> Path:
        """The workspace key file: as configured, else `keys/workspace.pem` in the workspace."""
        return self.workspace_key_file or self.workspace / "keys" / "workspace.pem"

    @property
    def sqlite_path(self) -> Path:
        return self.workspace / "clearance.db"

    @property
    def blob_root(self) -> Path:
        return self.workspace / "blobs"

    @property
    def cache_path(self) -> Path:
        return self.workspace / "cache" / "digests.sqlite"

    @property
    def url(self) -> str:
        return self.database_url or f"sqlite:///{self.sqlite_path}"


def _size(text: str) -> int:
    from clearance.errors import UsageError

    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"CLEARANCE_MAX_UPLOAD_BYTES={text!r}: give a number of bytes") from None
    if value <= 0:
        raise UsageError("CLEARANCE_MAX_UPLOAD_BYTES must be positive")
    return value
