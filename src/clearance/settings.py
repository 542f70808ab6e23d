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
    #: the origin line of the log's checkpoints (default: unique per workspace)
    log_origin: str | None = None
    #: the address people reach this server at, for the links it hands out (reviewer links)
    public_url: str = "http://127.0.0.1:8000"
    #: inbound change webhooks and outbound notifications (CLEARANCE_HOOK_*, _WEBHOOK*)
    webhooks: WebhookSettings = field(default_factory=lambda: WebhookSettings())
    #: sign-in to the web pages through OpenID Connect (CLEARANCE_OIDC_*)
    oidc: OidcSettings = field(default_factory=lambda: OidcSettings())
    #: the MLflow tracking server (and registry) that `mlflow://` sources are read from
    mlflow_tracking_uri: str | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, workspace: Path | None = None
    ) -> Settings:
        env = os.environ if env is None else env
        root = workspace or (
            Path(env["CLEARANCE_WORKSPACE"])
            if env.get("CLEARANCE_WORKSPACE")
            else discover_workspace(Path.cwd()) or Path.cwd() / WORKSPACE_DIRNAME
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
            log_origin=env.get("CLEARANCE_LOG_ORIGIN") or None,
            max_upload_bytes=_size(env["CLEARANCE_MAX_UPLOAD_BYTES"])
            if env.get("CLEARANCE_MAX_UPLOAD_BYTES")
            else cls.max_upload_bytes,
            home=Path(home).absolute() if home else Path.home() / ".config" / "clearance",
            public_url=env.get("CLEARANCE_PUBLIC_URL") or cls.public_url,
            webhooks=WebhookSettings.from_env(env),
            oidc=OidcSettings.from_env(env),
            mlflow_tracking_uri=env.get("CLEARANCE_MLFLOW_TRACKING_URI")
            or env.get("MLFLOW_TRACKING_URI")
            or None,
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


@dataclass(frozen=True)
class WebhookSettings:
    """Webhooks (docs/webhooks.md): the inbound shared secret and replay window, outbound
    subscriptions (a JSON list), the hosts besides loopback that may be called, and retries."""

    hook_secret: str | None = None
    replay_window: float = 300.0
    subscriptions: str | None = None
    allowed_hosts: tuple[str, ...] = ()
    timeout: float = 10.0
    backoff: float = 30.0
    max_attempts: int = 8
    poll: float = 2.0

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WebhookSettings:
        def number(name: str, default: float) -> float:
            from clearance.errors import UsageError

            text = env.get(name)
            try:
                value = float(text) if text else default
            except ValueError:
                raise UsageError(f"{name}={text!r}: give a number of seconds") from None
            if value <= 0:
                raise UsageError(f"{name} must be positive")
            return value

        hosts = env.get("CLEARANCE_WEBHOOK_HOSTS") or ""
        return cls(
            hook_secret=env.get("CLEARANCE_HOOK_SECRET") or None,
            replay_window=number("CLEARANCE_HOOK_REPLAY_WINDOW", cls.replay_window),
            subscriptions=env.get("CLEARANCE_WEBHOOKS") or None,
            allowed_hosts=tuple(h.strip().lower() for h in hosts.split(",") if h.strip()),
            timeout=number("CLEARANCE_WEBHOOK_TIMEOUT", cls.timeout),
            backoff=number("CLEARANCE_WEBHOOK_BACKOFF", cls.backoff),
            max_attempts=int(number("CLEARANCE_WEBHOOK_MAX_ATTEMPTS", cls.max_attempts)),
            poll=number("CLEARANCE_WEBHOOK_POLL", cls.poll),
        )


@dataclass(frozen=True)
class OidcSettings:
    """The OpenID provider people sign in to the web pages with (authorization code with
    PKCE); off while `issuer` is unset. `match_email`: a provider's verified e-mail that is a
    registered person's name signs in as that person (otherwise only linked subjects do)."""

    issuer: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    match_email: bool = True
    #: the name of the provider on the sign-in button
    name: str = "single sign-on"

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> OidcSettings:
        return cls(
            issuer=(env.get("CLEARANCE_OIDC_ISSUER") or "").rstrip("/") or None,
            client_id=env.get("CLEARANCE_OIDC_CLIENT_ID") or None,
            client_secret=env.get("CLEARANCE_OIDC_CLIENT_SECRET") or None,
            match_email=(env.get("CLEARANCE_OIDC_MATCH_EMAIL") or "1").lower()
            not in ("0", "false", "no"),
            name=env.get("CLEARANCE_OIDC_NAME") or cls.name,
        )

    @property
    def enabled(self) -> bool:
        return bool(self.issuer and self.client_id)


def discover_workspace(start: Path) -> Path | None:
    """The workspace of `start` as git finds a repository: the `.clearance` folder (one with
    its config.json) in `start` or the nearest folder above it. Like git, the search stops at
    a file-system boundary, so a slow network mount above the project is never searched."""
    folder = start.absolute()
    try:
        device = folder.stat().st_dev
    except OSError:
        return None
    while True:
        candidate = folder / WORKSPACE_DIRNAME
        if (candidate / "config.json").is_file():
            return candidate
        parent = folder.parent
        try:
            if parent == folder or parent.stat().st_dev != device:
                return None
        except OSError:
            return None
        folder = parent


def _size(text: str) -> int:
    from clearance.errors import UsageError

    try:
        value = int(text)
    except ValueError:
        raise UsageError(f"CLEARANCE_MAX_UPLOAD_BYTES={text!r}: give a number of bytes") from None
    if value <= 0:
        raise UsageError("CLEARANCE_MAX_UPLOAD_BYTES must be positive")
    return value
