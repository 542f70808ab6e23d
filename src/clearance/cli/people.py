"""`clearance people …` and `clearance keys …`: who may sign, in which roles, with which keys."""

from __future__ import annotations

from pathlib import Path

import click

from clearance.cli.output import as_option, console, workspace


def _public_key(path: str) -> bytes:
    from clearance.signing.statements import load_public_key

    return load_public_key(Path(path).read_bytes())


@click.group()
def people() -> None:
    """People who sign off, and their roles (organisation-wide or per system)."""


@people.command("add")
@click.argument("name")
@click.option(
    "--role",
    "roles",
    multiple=True,
    metavar="ROLE",
    help="ROLE (organisation-wide) or SYSTEM:ROLE; repeat for several.",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, exists=True),
    help="Their public key (PEM, or the raw key in base64).",
)
@click.option("--same-as", help="Another registered name of the same person.")
@as_option()
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    roles: tuple[str, ...],
    key_file: str | None,
    same_as: str | None,
    as_: str | None,
) -> None:
    """Register NAME with roles and a public key.

    \b
    Example:
      clearance people add dana@example.com --role model-risk --key dana.pub
    """
    from clearance.services.people import add_person

    ws = workspace(ctx)
    raw = _public_key(key_file) if key_file else None
    person = add_person(ws, name, list(roles), ws.actor(as_), raw, same_as)
    alias = f" (the same person as {person.identity})" if person.identity != person.name else ""
    console().print(
        f"Registered {person.name}{alias}: roles "
        f"{', '.join(str(r) for r in person.roles) or 'none'}; "
        f"{len(person.keys)} key(s)"
    )


@people.command()
@click.argument("name")
@click.option("--role", required=True, help="ROLE or SYSTEM:ROLE.")
@as_option()
@click.pass_context
def grant(ctx: click.Context, name: str, role: str, as_: str | None) -> None:
    """Give NAME a role.

    \b
    Example:
      clearance people grant erik@example.com --role credit-scoring:eng-manager
    """
    from clearance.services.people import grant_role

    ws = workspace(ctx)
    person = grant_role(ws, name, role, ws.actor(as_))
    console().print(f"{person.name}: roles {', '.join(str(r) for r in person.roles)}")


@people.command()
@click.argument("name")
@click.option("--role", required=True, help="ROLE or SYSTEM:ROLE.")
@as_option()
@click.pass_context
def revoke(ctx: click.Context, name: str, role: str, as_: str | None) -> None:
    """Take a role away from NAME.

    \b
    Example:
      clearance people revoke erik@example.com --role eng-manager
    """
    from clearance.services.people import grant_role

    ws = workspace(ctx)
    person = grant_role(ws, name, role, ws.actor(as_), action="revoke")
    console().print(f"{person.name}: roles {', '.join(str(r) for r in person.roles) or 'none'}")


@people.command("list")
@click.pass_context
def list_people(ctx: click.Context) -> None:
    """List registered people, their roles and keys.

    \b
    Example:
      clearance people list
    """
    from rich.table import Table

    from clearance.services.people import people as all_people

    table = Table(title="People")
    for col in ("Name", "Identity", "Roles", "Keys (valid from → retired)"):
        table.add_column(col)
    for p in all_people(workspace(ctx)):
        keys = "\n".join(
            f"{k.key_id[7:19]} {k.valid_from[:10]} → {(k.retired_at or '')[:10]}" for k in p.keys
        )
        table.add_row(p.name, p.identity, ", ".join(str(r) for r in p.roles), keys)
    console().print(table)


@click.group()
def keys() -> None:
    """Signing keys: generate your own, register public keys, retire old ones."""


@keys.command()
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Private key file to write (readable by you only); FILE.pub gets the public key.",
)
def generate(output: str) -> None:
    """Create an Ed25519 key pair for signing sign-offs.

    \b
    Example:
      clearance keys generate -o ~/.clearance/dana.pem
    """
    from clearance.errors import UsageError
    from clearance.signing import SigningKey
    from clearance.signing.statements import public_key_pem

    path = Path(output)
    if path.exists():
        raise UsageError(f"{path} exists; a key is never overwritten, choose another name")
    key = SigningKey.generate()
    key.save(path)
    pub = path.with_name(path.name + ".pub")
    pub.write_text(public_key_pem(key.public_raw))
    console().print(f"Wrote {path} (private, mode 600) and {pub}; key {key.key_id}")


@keys.command("add")
@click.argument("name")
@click.argument("public_key", type=click.Path(dir_okay=False, exists=True))
@as_option()
@click.pass_context
def add_key(ctx: click.Context, name: str, public_key: str, as_: str | None) -> None:
    """Register another public key for NAME (e.g. a rotated one).

    \b
    Example:
      clearance keys add dana@example.com dana-2027.pem.pub
    """
    from clearance.services.people import add_key as register

    ws = workspace(ctx)
    console().print(f"Registered key {register(ws, name, _public_key(public_key), ws.actor(as_))}")


@keys.command()
@click.argument("key_id")
@as_option()
@click.pass_context
def retire(ctx: click.Context, key_id: str, as_: str | None) -> None:
    """Stop KEY_ID from signing from now on; what it signed before still verifies.

    \b
    Example:
      clearance keys retire sha256:3f2a…
    """
    from clearance.services.people import retire_key

    ws = workspace(ctx)
    retire_key(ws, key_id, ws.actor(as_))
    console().print(f"Retired {key_id}")


@keys.command("workspace")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also write it to FILE.")
@click.pass_context
def workspace_key(ctx: click.Context, output: str | None) -> None:
    """Print the workspace's public key (PEM): what deploy pipelines verify attestations with.

    \b
    Example:
      clearance keys workspace -o clearance-workspace.pub
    """
    from clearance.signing.statements import public_key_pem

    pem = public_key_pem(workspace(ctx).signing_key.public_raw)
    if output:
        Path(output).write_text(pem)
    click.echo(pem, nl=False)
