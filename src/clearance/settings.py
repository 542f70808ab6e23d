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
    user: str | None = None
    max_plan_bytes: int = 1024 * 1024
    max_document_bytes: int = 64 * 1024 * 1024

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
        return cls(
            workspace=root.absolute(),
            database_url=env.get("CLEARANCE_DATABASE_URL") or None,
            user=env.get("CLEARANCE_USER") or None,
        )

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
