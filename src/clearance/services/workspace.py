"""The workspace: database, blob store and digest cache, opened from Settings."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clearance.errors import UsageError
from clearance.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from clearance.blobs import FilesystemBlobStore
    from clearance.core.checkpoint import Receipt
    from clearance.signing import SigningKey

CONFIG_NAME = "config.json"
FORMAT = 1


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Workspace:
    """A handle on one workspace; nothing is opened until it is first needed."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime] = _utc_now) -> None:
        self.settings = settings
        self.clock = clock
        self._engine: Engine | None = None
        self._blobs: FilesystemBlobStore | None = None
        self._key: SigningKey | None = None
        #: the receipt of the last write made through this handle
        self.last_receipt: Receipt | None = None

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return (self.settings.workspace / CONFIG_NAME).is_file()

    def require(self) -> None:
        if not self.exists:
            raise UsageError(
                f"no Clearance workspace at {self.settings.workspace}; run `clearance init` "
                "here, or point --workspace / CLEARANCE_WORKSPACE at one"
            )

    def create(self) -> bool:
        """Create the folder, config and schema; False when it already existed."""
        root = self.settings.workspace
        created = not self.exists
        (root / "blobs").mkdir(parents=True, exist_ok=True)
        (root / "cache").mkdir(parents=True, exist_ok=True)
        if not self.key_path.exists():
            from clearance.signing import SigningKey

            SigningKey.generate().save(self.key_path)
        if created:
            config = {"format": FORMAT, "created_at": self.clock().isoformat()}
            tmp = root / (CONFIG_NAME + ".tmp")
            tmp.write_text(json.dumps(config, indent=2) + "\n")
            tmp.replace(root / CONFIG_NAME)
        self._register_key()
        return created

    @property
    def key_path(self) -> Path:
        return self.settings.workspace / "keys" / "workspace.pem"

    @property
    def signing_key(self) -> SigningKey:
        """The workspace's own Ed25519 key: it signs log checkpoints (and decisions)."""
        if self._key is None:
            from clearance.signing import SigningKey

            self._key = SigningKey.load(self.key_path)
        return self._key

    def _register_key(self) -> None:
        """Record the workspace key's public half, once, so anyone can verify with it."""
        from clearance.signing import b64
        from clearance.store import repository as repo

        key = self.signing_key
        with self.transaction() as conn:
            if any(k["key_id"] == key.key_id for k in repo.public_keys(conn)):
                return
            repo.insert_key(conn, key.key_id, "workspace", b64(key.public_raw), self.clock())
            record_event(
                conn,
                self,
                "key.registered",
                "clearance",
                key.key_id,
                {"purpose": "workspace", "public_key": b64(key.public_raw)},
            )

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.settings.database_url is None:
                self.require()
            from clearance.store.db import create_engine, migrate

            engine = create_engine(self.settings.url)
            migrate(engine)
            self._engine = engine
        return self._engine

    @property
    def blobs(self) -> FilesystemBlobStore:
        if self._blobs is None:
            self.require()
            from clearance.blobs import DigestCache, FilesystemBlobStore

            self._blobs = FilesystemBlobStore(
                self.settings.blob_root, DigestCache(self.settings.cache_path)
            )
        return self._blobs

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One unit of work; if it appended events, it ends with a signed checkpoint and
        `last_receipt` says where its events are in the log."""
        from clearance.services.log import seal
        from clearance.store.db import transaction

        with transaction(self.engine) as conn:
            conn.info.pop("clearance_events", None)
            conn.info.pop("clearance_records", None)
            yield conn
            receipt = seal(conn, self)
        if receipt is not None:
            self.last_receipt = receipt

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- identities -----------------------------------------------------------------------

    def actor(self, given: str | None = None) -> str:
        """Who is acting: given explicitly, else CLEARANCE_USER, else the login name."""
        name = (given or self.settings.user or getpass.getuser()).strip()
        if not name:
            raise UsageError("who is acting is unknown; pass --as NAME or set CLEARANCE_USER")
        return name


def record_event(
    conn: Connection,
    ws: Workspace,
    type: str,
    actor: str,
    subject: str,
    payload: dict[str, Any],
    system_id: str | None = None,
) -> None:
    """Append the audit event of a change, in the transaction of that change."""
    from clearance.store.repository import append_event

    append_event(
        conn,
        type=type,
        actor=actor,
        subject=subject,
        payload=payload,
        at=ws.clock(),
        system_id=system_id,
    )
