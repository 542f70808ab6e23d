"""`clearance people …` and `clearance keys …`: who may sign, in which roles, with which keys.
Every change is a statement signed by the person making it (an administrator, or you for
your own keys)."""

from __future__ import annotations

from pathlib import Path

import click

from clearance.cli.output import console, key_option, local_client, workspace


def _public_key(ctx: click.Context, path: str) -> bytes:
    from clearance.client.paths import read_document
    from clearance.signing.statements import load_public_key

    limit = ctx.find_root().obj.max_plan_bytes
    return load_public_key(read_document(Path(path), limit, "public key"))


def _roles(person: object) -> str:
    return ", ".join(str(r) for r in getattr(person, "roles", [])) or "none"


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
    "--public-key",
    "public_key",
    type=click.Path(dir_okay=False, exists=True),
    help="Their public key (PEM, or the raw key in base64).",
)
@click.option("--same-as", help="Another registered name of the same person.")
@click.option(
    "--service",
    is_flag=True,
    help="A service account (CI): it calls the API with a token, holds no key, never signs.",
)
@key_option
@click.pass_context
def add(
    ctx: click.Context,
    name: str,
    roles: tuple[str, ...],
    public_key: str | None,
    same_as: str | None,
    service: bool,
    key_file: str | None,
) -> None:
    """Register NAME with roles and a public key (administrators only).

    \b
    Examples:
      clearance people add dana@example.com --role model-risk --public-key dana.pem.pub
      clearance people add ci@example.com --service --role credit-scoring:ci
    """
    from clearance.services.people import add_person
    from clearance.signing import b64

    me = local_client(ctx, key_file)
    raw = _public_key(ctx, public_key) if public_key else None
    envelope = me.admin_statement(
        "person.add",
        {
            "name": name,
            "roles": list(roles),
            "public_key": b64(raw) if raw is not None else None,
            "same_as": same_as,
            "kind": "service" if service else "person",
        },
    )
    person = add_person(me.ws, envelope)
    alias = f" (the same person as {person.identity})" if person.identity != person.name else ""
    what = "service account " if person.service else ""
    console().print(
        f"Registered {what}{person.name}{alias}: roles {_roles(person)}; {len(person.keys)} key(s)"
    )


def _change(ctx: click.Context, name: str, role: str, key_file: str | None, verb: str) -> None:
    from clearance.services.people import change_role

    me = local_client(ctx, key_file)
    person = change_role(me.ws, me.admin_statement(f"role.{verb}", {"name": name, "role": role}))
    console().print(f"{person.name}: roles {_roles(person)}")


@people.command()
@click.argument("name")
@click.option("--role", required=True, help="ROLE or SYSTEM:ROLE.")
@key_option
@click.pass_context
def grant(ctx: click.Context, name: str, role: str, key_file: str | None) -> None:
    """Give NAME a role (administrators only).

    \b
    Example:
      clearance people grant erik@example.com --role credit-scoring:eng-manager
    """
    _change(ctx, name, role, key_file, "grant")


@people.command()
@click.argument("name")
@click.option("--role", required=True, help="ROLE or SYSTEM:ROLE.")
@key_option
@click.pass_context
def revoke(ctx: click.Context, name: str, role: str, key_file: str | None) -> None:
    """Take a role away from NAME (administrators only).

    \b
    Example:
      clearance people revoke erik@example.com --role eng-manager
    """
    _change(ctx, name, role, key_file, "revoke")


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
    for col in ("Name", "Identity", "Roles", "Keys (id, valid from → retired)"):
        table.add_column(col)
    for p in all_people(workspace(ctx)):
        keys = "\n".join(
            f"{k.key_id[7:19]} {k.valid_from[:10]} → "
            + (f"retired {k.retired_at[:10]}" if k.retired_at else "")
            for k in p.keys
        )
        table.add_row(p.name, p.identity, _roles(p), keys)
    console().print(table)


@people.command()
@click.argument("name")
@click.option(
    "--stdin", "from_stdin", is_flag=True, help="Read the password from the first line of stdin."
)
@key_option
@click.pass_context
def password(ctx: click.Context, name: str, from_stdin: bool, key_file: str | None) -> None:
    """Set NAME's password for the web pages (administrators, or NAME themself); it is
    stored only as an argon2 hash, and the previous one stops working.

    \b
    Examples:
      clearance people password dana@example.com
      printf '%s\\n' "$PASSWORD" | clearance people password dana@example.com --stdin
    """
    import sys

    from clearance.services.signin import set_password

    if from_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    else:
        secret = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    me = local_client(ctx, key_file)
    person = set_password(me.ws, me.admin_statement("person.password", {"name": name}), secret)
    console().print(f"Set the password of {person.name}; they sign in at the server's / page")


@people.command()
@click.argument("name")
@click.option("--subject", required=True, help="The person's subject (sub) at the provider.")
@click.option(
    "--issuer",
    envvar="CLEARANCE_OIDC_ISSUER",
    required=True,
    help="The OpenID provider's issuer URL (default: CLEARANCE_OIDC_ISSUER).",
)
@key_option
@click.pass_context
def oidc(ctx: click.Context, name: str, subject: str, issuer: str, key_file: str | None) -> None:
    """Let NAME sign in to the web pages through OpenID Connect as SUBJECT (administrators
    only); other subjects are refused unless their verified e-mail is a registered name.

    \b
    Example:
      clearance people oidc dana@example.com --subject 248289761001 --issuer https://id.example.com
    """
    from clearance.services.signin import link_oidc

    me = local_client(ctx, key_file)
    args = {"name": name, "issuer": issuer, "subject": subject}
    person = link_oidc(me.ws, me.admin_statement("person.oidc", args))
    console().print(f"Linked {subject} at {issuer} to {person.name}")


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
    """Create an Ed25519 key pair for signing.

    \b
    Example:
      clearance keys generate -o ~/.config/clearance/dana.pem
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
@key_option
@click.pass_context
def add_key(ctx: click.Context, name: str, public_key: str, key_file: str | None) -> None:
    """Register another public key for NAME: your own (signed with a current key of yours),
    or anyone's if you are an administrator.

    \b
    Example:
      clearance keys add dana@example.com dana-2027.pem.pub
    """
    from clearance.services.people import add_key as register
    from clearance.signing import b64

    me = local_client(ctx, key_file)
    raw = _public_key(ctx, public_key)
    kid = register(me.ws, me.admin_statement("key.add", {"name": name, "public_key": b64(raw)}))
    console().print(f"Registered key {kid} for {name.strip().casefold()}")


@keys.command()
@click.argument("key_id")
@key_option
@click.pass_context
def retire(ctx: click.Context, key_id: str, key_file: str | None) -> None:
    """Stop KEY_ID (the id, or the short id `people list` shows) from signing from now on;
    what it signed before still verifies.

    \b
    Example:
      clearance keys retire 3f2a9c1b7d04
    """
    from clearance.services.people import find_key, retire_key

    me = local_client(ctx, key_file)
    full = find_key(me.ws, key_id)
    retire_key(me.ws, me.admin_statement("key.retire", {"key_id": full}))
    console().print(f"Retired {full}")


@keys.command("workspace")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also write it to FILE.")
@click.pass_context
def workspace_key(ctx: click.Context, output: str | None) -> None:
    """Print the workspace's public key (PEM): what deploy pipelines and auditors pin.

    \b
    Example:
      clearance keys workspace -o clearance-workspace.pub
    """
    from clearance.signing.statements import public_key_pem

    pem = public_key_pem(workspace(ctx).signing_key.public_raw)
    if output:
        Path(output).write_text(pem)
    click.echo(pem, nl=False)
