"""The workspace: database, blob store and signing key, opened from Settings.

Opening never changes the schema: `create` (run by `clearance init`) and `upgrade` (run by
`clearance db upgrade`) migrate; every other command refuses a database that is behind.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from clearance.errors import StoreError, UsageError
from clearance.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from clearance.blobs import BlobStore
    from clearance.blobs.tiered import TieredBlobStore
    from clearance.core.checkpoint import Receipt
    from clearance.signing import SigningKey
    from clearance.store.uow import UnitOfWork

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
        self._blobs: TieredBlobStore | None = None
        self._key: SigningKey | None = None
        self._thread = threading.local()
        #: the log's checkpoint origin, once read (services.log.log_origin)
        self.log_origin_cache: str | None = None
        from clearance.services.commits import CommitGroups

        self._commits = CommitGroups(self)

    @property
    def last_receipt(self) -> Receipt | None:
        """The receipt of the last write this thread made through this handle (a server's
        threads each see their own)."""
        return getattr(self._thread, "receipt", None)

    @last_receipt.setter
    def last_receipt(self, receipt: Receipt | None) -> None:
        self._thread.receipt = receipt

    # -- lifecycle ------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.settings.team or (self.settings.workspace / CONFIG_NAME).is_file()

    def require(self) -> None:
        if not self.exists:
            # Commands look in every folder above too (settings.discover_workspace), so
            # advice to init "here" would nest a second workspace in a subfolder.
            raise UsageError(
                f"no Clearance workspace at {self.settings.workspace}, nor in any folder "
                "above it; run `clearance init` in your project's top folder (commands find "
                "it from every folder below), or point --workspace / CLEARANCE_WORKSPACE at one"
            )

    @property
    def config(self) -> dict[str, Any]:
        try:
            data: dict[str, Any] = json.loads((self.settings.workspace / CONFIG_NAME).read_text())
        except (OSError, ValueError):
            return {}
        return data

    def write_config(self, **values: Any) -> None:
        """Merge `values` into the workspace configuration (written atomically)."""
        root = self.settings.workspace
        config = {**self.config, **values}
        tmp = root / (CONFIG_NAME + ".tmp")
        tmp.write_text(json.dumps(config, indent=2) + "\n")
        tmp.replace(root / CONFIG_NAME)

    def create(self) -> bool:
        """Create the folder, config, schema and workspace key; False when it existed."""
        root = self.settings.workspace
        created = not self.exists
        if not self.settings.team:
            (root / "blobs").mkdir(parents=True, exist_ok=True)
            (root / "cache").mkdir(parents=True, exist_ok=True)
        self.upgrade()
        if self.settings.workspace_key_pem is None and not self.settings.key_path.exists():
            self._no_key_yet()
            from clearance.signing import SigningKey

            SigningKey.generate().save(self.settings.key_path)
        if created:
            self.write_config(format=FORMAT, created_at=self.clock().isoformat())
        self._register_key()
        return created

    def _no_key_yet(self) -> None:
        """A database that has a workspace key gets no new one because a key file is
        missing: that would retire the key every running process signs with."""
        from clearance.store import repository as repo

        assert self._engine is not None
        with self._engine.connect() as conn:
            current = repo.current_workspace_key(conn)
        if current is not None:
            raise UsageError(
                f"no workspace key at {self.settings.key_path}, but this database's workspace "
                f"key is {current[:19]}…; point CLEARANCE_WORKSPACE_KEY (or "
                "CLEARANCE_WORKSPACE_KEY_PEM) at it. A new key is made only for a new database"
            )

    def upgrade(self) -> None:
        """Bring the database schema to the newest migration."""
        from clearance.store.db import create_engine, migrate

        if self._engine is None:
            self._engine = create_engine(self.settings.url)
        migrate(self._engine)

    @property
    def signing_key(self) -> SigningKey:
        """The workspace's own Ed25519 key: it signs checkpoints, attestations and packs."""
        if self._key is None:
            from clearance.signing import SigningKey

            if self.settings.workspace_key_pem is not None:
                self._key = SigningKey.from_pem(
                    self.settings.workspace_key_pem.encode(), "CLEARANCE_WORKSPACE_KEY_PEM"
                )
            else:
                self._key = SigningKey.load(self.settings.key_path)
        return self._key

    def _register_key(self) -> None:
        """Record the workspace key's public half, once, so anyone can verify with it."""
        from clearance.signing import b64
        from clearance.store import repository as repo

        key = self.signing_key
        with self.transaction() as uow:
            if any(k["key_id"] == key.key_id for k in repo.public_keys(uow.conn)):
                return
            public = b64(key.public_raw)
            inserted = repo.insert_key(uow, key.key_id, "workspace", public, self.clock())
            uow.append(
                "key.registered",
                actor="clearance",
                subject=key.key_id,
                payload={"purpose": "workspace", "public_key": public},
                records=[inserted],
            )

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            if self.settings.database_url is None:
                self.require()
            from clearance.store.db import HEAD, create_engine, schema_revision

            engine = create_engine(self.settings.url)
            found = schema_revision(engine)
            if found != HEAD:
                engine.dispose()
                state = "has no Clearance schema" if found is None else f"is at schema {found}"
                raise StoreError(
                    f"the database {state}; this Clearance needs {HEAD}: run "
                    "`clearance db upgrade` (or `clearance init` for a new workspace)"
                )
            self._engine = engine
        return self._engine

    @property
    def blobs(self) -> TieredBlobStore:
        """The evidence store: small blobs in the database, larger ones in the workspace's
        blob store or a team deployment's (`CLEARANCE_BLOB_URL`)."""
        if self._blobs is None:
            self.require()
            from clearance.blobs.tiered import TieredBlobStore

            files: BlobStore
            if self.settings.blob_url is not None:
                from clearance.blobs.urls import open_blob_store

                files = open_blob_store(
                    self.settings.blob_url, endpoint_url=self.settings.s3_endpoint
                )
            else:
                from clearance.blobs import DigestCache, FilesystemBlobStore

                files = FilesystemBlobStore(
                    self.settings.blob_root, DigestCache(self.settings.cache_path)
                )
            self._blobs = TieredBlobStore(lambda: self.engine, files)
        return self._blobs

    @contextmanager
    def transaction(self) -> Iterator[UnitOfWork]:
        """One unit of work; if it appended events, it ends with a signed checkpoint and
        `last_receipt` says where its events are in the log. Webhook outbox rows for its
        events are written in it too (transactional outbox). Writers of this handle that
        arrive while one is open share its commit (services.commits)."""
        with self._commits.transaction() as uow:
            yield uow

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
