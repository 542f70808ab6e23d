"""`clearance share …`: reviewer links, time-bound read-only access to releases for people
without an account; every use of one is on the audit log."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from clearance.cli.output import console, key_option, local_client, workspace

if TYPE_CHECKING:
    from clearance.services.shares import Access, ShareSummary


@click.group()
def share() -> None:
    """Reviewer links: read-only, scoped to named releases, expiring, revocable, logged."""


def _release(text: str) -> tuple[str, str]:
    system, sep, version = text.partition("@")
    if not sep or not system.strip() or not version.strip():
        raise click.BadParameter(
            f'"{text}" is not a release; write SYSTEM@VERSION, e.g. credit-scoring@2.4.0',
            param_hint="--release",
        )
    return system.strip(), version.strip()


@share.command()
@click.argument("system", required=False)
@click.argument("version", required=False)
@click.option(
    "--release",
    "more",
    multiple=True,
    metavar="SYSTEM@VERSION",
    help="Another release the link shows (repeatable).",
)
@click.option(
    "--expires", default="7d", show_default=True, help="A duration or a date; at most 30 days."
)
@click.option("--note", default="", help="Why it is shared (shown to the reviewer).")
@key_option
@click.pass_context
def create(
    ctx: click.Context,
    system: str | None,
    version: str | None,
    more: tuple[str, ...],
    expires: str,
    note: str,
    key_file: str | None,
) -> None:
    """Create a link to release SYSTEM VERSION (its current candidate) for a reviewer; its
    URL is printed on the last line, once. Only the system's owner or an administrator.

    \b
    Example:
      clearance share create credit-scoring 2.4.0 --expires 7d --note "Q4 audit"
      clearance share create --release credit-scoring@2.4.0 --release fraud@1.2.0
    """
    from clearance.core.durations import parse_expiry
    from clearance.errors import UsageError
    from clearance.services.shares import create_share

    if (system is None) != (version is None):
        raise UsageError("give both SYSTEM and VERSION, e.g. credit-scoring 2.4.0")
    releases = ([(system, version)] if system and version else []) + [_release(r) for r in more]
    if not releases:
        raise UsageError("name a release to share: clearance share create SYSTEM VERSION")
    me = local_client(ctx, key_file)
    ws = workspace(ctx)
    try:
        until = parse_expiry(expires, ws.clock())
    except ValueError as exc:
        raise UsageError(f"--expires: {exc}") from None
    made = create_share(ws, me.principal("share.create", required=True), releases, until, note)
    link = made.link
    shown = ", ".join(r.label for r in link.releases)
    console(stderr=True).print(
        f"Reviewer link {link.id} to {shown}, until {link.expires_at:%Y-%m-%d %H:%M} UTC. "
        "Anyone holding the URL can read these releases until then; it is shown once, and "
        f"every use is logged (`clearance share show {link.id}`)."
    )
    click.echo(made.url)


@share.command("list")
@click.option("--access", "access", metavar="ID", help="Show link ID's access log instead.")
@key_option
@click.pass_context
def list_(ctx: click.Context, access: str | None, key_file: str | None) -> None:
    """List the reviewer links you manage (all, for an administrator); never their URLs.

    \b
    Example:
      clearance share list
      clearance share list --access 3
    """
    from rich.table import Table

    from clearance.services.shares import list_shares, share_access_log

    me = local_client(ctx, key_file)
    ws = workspace(ctx)
    principal = me.principal("share.list", required=True)
    if access is not None:
        _print_access(share_access_log(ws, principal, access))
        return
    found = list_shares(ws, principal)
    table = Table(title="Reviewer links")
    for column in ("ID", "Releases", "By", "Created (UTC)", "Expires (UTC)", "State", "Views"):
        table.add_column(column)
    for s in found:
        table.add_row(*_row(s))
    console().print(table if found else "No reviewer links.")


@share.command()
@click.argument("ref", metavar="ID|URL")
@key_option
@click.pass_context
def show(ctx: click.Context, ref: str, key_file: str | None) -> None:
    """Show one reviewer link and its access log: every view and download, when, from
    which address.

    \b
    Example:
      clearance share show 3
    """
    from clearance.services.shares import share_report

    me = local_client(ctx, key_file)
    summary, log = share_report(workspace(ctx), me.principal("share.show", required=True), ref)
    link = summary.link
    console().print(
        f"Reviewer link {link.id}: {', '.join(r.label for r in link.releases)}\n"
        f"  created by {link.created_by} on {link.created_at:%Y-%m-%d %H:%M} UTC; "
        f"expires {link.expires_at:%Y-%m-%d %H:%M} UTC; {summary.state}"
        + (f" ({link.revoked_by})" if link.revoked_by else "")
        + (f"\n  note: {link.note}" if link.note else "")
    )
    _print_access(log)


@share.command()
@click.argument("ref", metavar="URL|ID")
@key_option
@click.pass_context
def revoke(ctx: click.Context, ref: str, key_file: str | None) -> None:
    """Revoke a reviewer link from now on (its creator, the owner or an administrator).

    \b
    Example:
      clearance share revoke 3
      clearance share revoke https://clearance.example.com/r/crv_…
    """
    from clearance.services.shares import revoke_share

    me = local_client(ctx, key_file)
    link = revoke_share(workspace(ctx), me.principal("share.revoke", required=True), ref)
    console().print(f"Revoked reviewer link {link.id}; it shows a 404 page from now on.")


def _row(s: ShareSummary) -> tuple[str, ...]:
    link = s.link
    state = f"revoked by {link.revoked_by}" if s.state == "revoked" else s.state
    return (
        str(link.id),
        "\n".join(r.label for r in link.releases),
        link.created_by,
        f"{link.created_at:%Y-%m-%d %H:%M}",
        f"{link.expires_at:%Y-%m-%d %H:%M}",
        state,
        str(s.views),
    )


def _print_access(log: list[Access]) -> None:
    from rich.table import Table

    if not log:
        console().print("Not used yet.")
        return
    table = Table(title="Access log")
    for column in ("Event", "When (UTC)", "What", "Read", "From"):
        table.add_column(column)
    for a in log:
        table.add_row(str(a.seq), f"{a.at:%Y-%m-%d %H:%M:%S}", a.kind, a.read, a.address or "")
    console().print(table)
