"""`clearance serve` and `clearance tokens …`: the team server and its API tokens."""

from __future__ import annotations

import click

from clearance.cli.output import console, key_option, local_client, workspace


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Processes; each is stateless, so any number may serve one database.",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, workers: int) -> None:
    """Serve the REST API (/api/v1, OpenAPI at /api/v1/openapi.json) for this workspace, or
    for a team deployment when CLEARANCE_DATABASE_URL and CLEARANCE_BLOB_URL are set.

    \b
    Example:
      clearance serve --port 8000
      CLEARANCE_DATABASE_URL=postgresql+psycopg://… CLEARANCE_BLOB_URL=s3://evidence/prod \\
        CLEARANCE_WORKSPACE_KEY=/run/secrets/clearance.pem clearance serve --workers 4
    """
    import os

    import uvicorn

    from clearance.api.app import create_app

    settings = ctx.find_root().obj
    if settings.server:
        raise click.UsageError("`clearance serve` serves a workspace; unset CLEARANCE_SERVER")
    # refuses a missing database, schema or key before listening
    app = create_app(settings, deliver_webhooks=True)
    console(stderr=True).print(
        f"Clearance API on http://{host}:{port}/api/v1 "
        f"({'team deployment' if settings.team else settings.workspace}); Ctrl+C stops it"
    )
    if workers == 1:
        uvicorn.run(app, host=host, port=port, log_level="info", server_header=False)
        return
    os.environ["CLEARANCE_WORKSPACE"] = str(settings.workspace)
    config = uvicorn.Config(
        "clearance.api.app:from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        server_header=False,
    )
    _serve_workers(config)


def _serve_workers(config: object) -> None:
    """uvicorn's worker supervisor on a listening socket made as TCP: the one uvicorn makes
    has protocol 0, so TCP_NODELAY is never set on its connections and each keep-alive
    answer after the first waits for the client's delayed ACK (~40 ms; uvicorn#3149)."""
    import socket

    from uvicorn.supervisors import Multiprocess

    host, port = config.host, config.port  # type: ignore[attr-defined]
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        raise click.UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    Multiprocess(config, sockets=[sock]).run()  # type: ignore[arg-type]


@click.group()
def tokens() -> None:
    """API tokens for the server: shown once, stored only as hashes, scoped and expiring."""


@tokens.command()
@click.argument("name")
@click.option(
    "--for",
    "person",
    metavar="NAME",
    help="The person or service account it acts for (default: you).",
)
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    metavar="SCOPE",
    help="read, write, sign or admin (repeat or comma-separate). Default: all its holder "
    "may use (read and write for a service account).",
)
@click.option("--expires", default="30d", show_default=True, help="A duration or a date.")
@key_option
@click.pass_context
def create(
    ctx: click.Context,
    name: str,
    person: str | None,
    scopes: tuple[str, ...],
    expires: str,
    key_file: str | None,
) -> None:
    """Create token NAME (administrators only); the token is printed on the last line, once.

    \b
    Example:
      clearance tokens create ci-credit-scoring --for ci@example.com --expires 90d
    """
    from clearance.core.durations import parse_expiry
    from clearance.errors import UsageError
    from clearance.services.tokens import create_token
    from clearance.store.records import to_time

    me = local_client(ctx, key_file)
    ws = workspace(ctx)
    try:
        until = parse_expiry(expires, ws.clock())
    except ValueError as exc:
        raise UsageError(f"--expires: {exc}") from None
    args = {
        "name": name,
        "person": person or me.me.name,
        "scopes": [s for text in scopes for s in text.split(",") if s.strip()],
        "expires": to_time(until),
    }
    made = create_token(ws, me.admin_statement("token.create", args))
    t = made.token
    console(stderr=True).print(
        f"Created token {t.name} for {t.person}: scopes {', '.join(t.scopes)}; expires "
        f"{t.expires_at:%Y-%m-%d %H:%M} UTC. It is shown once and not stored: keep it now."
    )
    click.echo(made.secret)


@tokens.command("list")
@key_option
@click.pass_context
def list_(ctx: click.Context, key_file: str | None) -> None:
    """List tokens (all for an administrator, else your own); never their values.

    \b
    Example:
      clearance tokens list
    """
    from rich.table import Table

    from clearance.services.tokens import list_tokens

    me = local_client(ctx, key_file)
    ws = workspace(ctx)
    now = ws.clock()
    found = list_tokens(ws, me.principal("tokens.list", required=True))
    table = Table(title="API tokens")
    for column in ("Name", "For", "Scopes", "Created (UTC)", "Expires (UTC)", "State"):
        table.add_column(column)
    for t in found:
        state = (
            f"revoked {t.revoked_at:%Y-%m-%d} by {t.revoked_by}"
            if t.revoked_at
            else "expired"
            if t.expires_at <= now
            else "active"
        )
        table.add_row(
            t.name,
            t.person,
            ", ".join(t.scopes),
            f"{t.created_at:%Y-%m-%d %H:%M}",
            f"{t.expires_at:%Y-%m-%d %H:%M}",
            state,
        )
    console().print(table if found else "No API tokens.")


@tokens.command()
@click.argument("name")
@key_option
@click.pass_context
def revoke(ctx: click.Context, name: str, key_file: str | None) -> None:
    """Revoke token NAME from now on (an administrator, or the person it belongs to).

    \b
    Example:
      clearance tokens revoke ci-credit-scoring
    """
    from clearance.services.tokens import revoke_token

    me = local_client(ctx, key_file)
    revoke_token(workspace(ctx), me.admin_statement("token.revoke", {"name": name}))
    console().print(f"Revoked token {name}; it is refused from now on.")
