"""`clearance init`, `clearance db upgrade` and `clearance verify`."""

from __future__ import annotations

from pathlib import Path

import click

from clearance.cli.output import console, local_client, workspace


@click.command()
@click.option(
    "--template",
    metavar="NAME",
    is_flag=False,
    flag_value="",
    help="Also write a starter plan from template NAME; `--template` alone lists them.",
)
@click.option("--force", is_flag=True, help="Overwrite template files that already exist.")
@click.option(
    "--nested",
    is_flag=True,
    help="Make a workspace here even inside another workspace's folder (rarely wanted).",
)
@click.option(
    "--admin",
    metavar="NAME",
    help="The first administrator (default: CLEARANCE_USER or your login name).",
)
@click.option(
    "--admin-key",
    type=click.Path(dir_okay=False, exists=True),
    help="The first administrator's public key (theirs to keep the private half); without "
    "it, a key pair is made for you outside the workspace.",
)
@click.pass_context
def init(
    ctx: click.Context,
    template: str | None,
    force: bool,
    nested: bool,
    admin: str | None,
    admin_key: str | None,
) -> None:
    """Create a workspace in ./.clearance (SQLite, blob store, config) and its first
    administrator.

    Plain `clearance init` makes you the first administrator: it generates your key pair
    outside the workspace (private half mode 600), remembers it as this workspace's default
    identity, and says who and where. Every later command signs as you without more flags.

    Commands find the workspace from any folder below this one, as git does; `init` in
    such a folder refuses to make a second workspace there unless given --nested.

    \b
    Examples:
      clearance init --template tabular-classifier
      clearance init --template          # list the templates
      clearance init --admin ciso@example.com --admin-key ciso.pub
    """
    from clearance.errors import UsageError

    if template == "":
        _list_templates()
        return
    _refuse_nesting(ctx, nested)
    files: dict[str, bytes] = {}
    if template:
        from clearance.templates import template_files

        files = template_files(template)
        clashes = [name for name in files if Path(name).exists()]
        if clashes and not force:
            raise UsageError(
                f"these files already exist: {', '.join(sorted(clashes))}; "
                "move them away or pass --force to overwrite"
            )
    if admin_key and not admin:
        raise UsageError("--admin-key needs --admin NAME: whose key it is")
    ws = workspace(ctx)
    created = ws.create()
    out = console()
    out.print(f"{'Created' if created else 'Using existing'} workspace at {ws.settings.workspace}")
    _first_admin(ctx, admin, admin_key)
    for name, data in sorted(files.items()):
        target = Path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        out.print(f"  wrote {name}")
    if files:
        _declare(ctx, "production", "declared by init for the template's plan")
        out.print(
            "Next: follow the steps at the top of plan.yaml: `clearance plan validate "
            "plan.yaml`, then `clearance check plan.yaml` says what each criterion still needs."
        )


def _list_templates() -> None:
    from clearance.templates import TEMPLATES

    out = console()
    out.print("Templates (clearance init --template NAME):")
    width = max(len(name) for name in TEMPLATES)
    for name, description in TEMPLATES.items():
        out.print(f"  {name:<{width}}  {description}")


def _refuse_nesting(ctx: click.Context, nested: bool) -> None:
    """Refuse to make a workspace in a folder that already belongs to one above it (found as
    every command finds it); with --nested, make it here instead."""
    import dataclasses

    from clearance.errors import UsageError
    from clearance.settings import WORKSPACE_DIRNAME

    root = ctx.find_root()
    settings = root.obj
    here = Path.cwd().absolute() / WORKSPACE_DIRNAME
    if root.params.get("workspace") is not None or settings.team or settings.workspace == here:
        return  # named explicitly, a team database, or this folder's own
    if not nested:
        raise UsageError(
            f"this folder is inside the Clearance workspace at {settings.workspace}; every "
            "command here already uses it, so no second workspace is needed. Run the "
            "command you wanted from here, or pass --nested to make a separate workspace "
            "in this folder"
        )
    root.obj = dataclasses.replace(settings, workspace=here)


def _first_admin(ctx: click.Context, admin: str | None, admin_key: str | None) -> None:
    """Make the first administrator, unless the workspace has people already."""
    import getpass

    from clearance.client.identity import own_identity
    from clearance.core.identity import valid_name
    from clearance.errors import ForbiddenError, UsageError
    from clearance.services.people import bootstrap_admin, people

    ws = workspace(ctx)
    if people(ws):
        if admin or admin_key:
            raise ForbiddenError(
                "this workspace already has its administrators; an administrator adds people "
                "with `clearance people add`"
            )
        return
    settings = ctx.find_root().obj
    try:
        name = valid_name(admin or settings.user or getpass.getuser())
    except ValueError as exc:
        raise UsageError(f"--admin: {exc}") from None
    if admin_key:
        from clearance.cli.people import _public_key

        bootstrap_admin(ws, name, _public_key(ctx, admin_key))
        console().print(
            f"First administrator: {name} (key from {admin_key}); they sign with their own "
            "private key: `clearance --identity THEIR.pem …`"
        )
        return
    key, path, made = own_identity(settings, name)
    bootstrap_admin(ws, name, key.public_raw)
    ws.write_config(identity=str(path))
    console().print(
        f"First administrator: {name}; your identity key is {path} "
        f"({'created, ' if made else ''}private, mode 600, outside the workspace). "
        "Commands here sign as you with it."
    )


def _declare(ctx: click.Context, name: str, description: str) -> None:
    from clearance.errors import ForbiddenError
    from clearance.services.policy import declare_target

    me = local_client(ctx)
    try:
        envelope = me.admin_statement("target.declare", {"name": name, "description": description})
        _, new = declare_target(me.ws, envelope)
    except ForbiddenError:
        console().print(
            f"Target {name} is not declared yet: an administrator runs "
            f"`clearance env declare {name}`."
        )
        return
    if new:
        console().print(f"Declared target environment {name}.")


@click.group()
def db() -> None:
    """The workspace database."""


@db.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Bring the database schema to this version of Clearance (no command migrates on its
    own; records are never rewritten).

    \b
    Example:
      CLEARANCE_DATABASE_URL=postgresql+psycopg://… clearance db upgrade
    """
    from clearance.store.db import HEAD

    ws = workspace(ctx)
    if ws.settings.database_url is None:
        ws.require()
    ws.upgrade()
    console().print(f"Database schema at {HEAD}.")


@click.command()
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Re-hash every blob, verify the log, and compare every record with what the log
    recorded (exit 3 naming each row that differs or was inserted behind Clearance's back).

    \b
    Example:
      clearance verify
    """
    from clearance.errors import IntegrityError
    from clearance.services.integrity import verify_workspace

    checked, failures = verify_workspace(workspace(ctx))
    if failures:
        raise IntegrityError(
            f"the workspace does not verify ({len(failures)} problem(s)):", failures
        )
    console().print(f"Workspace verified: {checked} records and every blob match their digests.")
