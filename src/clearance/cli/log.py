"""`clearance log checkpoint|verify|prove|consistency`: the tamper-evident audit log."""

from __future__ import annotations

import json
from pathlib import Path

import click

from clearance.cli.output import client, console, workspace


@click.group()
def log() -> None:
    """The audit log: signed checkpoints, verification, inclusion proofs."""


@log.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also save it to FILE.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["note", "json"]),
    default="note",
    show_default=True,
    help="note: the C2SP tlog-checkpoint signed note itself; json: it with its fields.",
)
@click.pass_context
def checkpoint(ctx: click.Context, output: str | None, fmt: str) -> None:
    """Print the latest signed checkpoint: a C2SP tlog-checkpoint signed note (origin, tree
    size, base64 root; an Ed25519 note signature and a timestamped cosignature). Keep it: a
    later `log verify --since FILE` proves the log still contains everything up to it.

    \b
    Example:
      clearance log checkpoint -o checkpoint-2026-11-27.note
    """
    cp = client(ctx).log_checkpoint()
    text = json.dumps(cp.as_json(), indent=2) + "\n" if fmt == "json" or cp.legacy else cp.note()
    if output:
        Path(output).write_text(text)
    click.echo(text, nl=False)


@log.command()
@click.option(
    "--since",
    "since_file",
    type=click.Path(dir_okay=False, exists=True),
    help="A checkpoint kept earlier; the log must still contain it.",
)
@click.option(
    "--incremental",
    is_flag=True,
    help="With --since: read only the events after the kept checkpoint (the ones up to it "
    "were checked when it was kept), bound to it by O(log n) stored hashes.",
)
@click.pass_context
def verify(ctx: click.Context, since_file: str | None, incremental: bool) -> None:
    """Recompute the Merkle tree in one pass, check every checkpoint's root and signature,
    every stored tree node, event order and times, and consistency with a kept checkpoint.
    Exit 3 with the first bad index.

    \b
    Example:
      clearance log verify --since checkpoint-2026-11-27.json
      clearance log verify --since checkpoint-2026-11-27.json --incremental
    """
    from clearance.core.checkpoint import Checkpoint
    from clearance.errors import IntegrityError, UsageError

    since = None
    if since_file:
        try:
            since = Checkpoint.parse_kept(Path(since_file).read_text())
        except ValueError as exc:
            raise UsageError(f"{since_file}: {exc}") from None
    if incremental and since is None:
        raise UsageError("--incremental verifies from a kept checkpoint: give it with --since")
    report = client(ctx).log_verify(since, incremental=incremental)
    if report.failures:
        raise IntegrityError("the audit log does not verify:", report.failures)
    kept = f"; it contains the kept checkpoint of size {since.size}" if since else ""
    console().print(
        f"Log verified: {report.events} events, {report.checkpoints} signed checkpoints{kept}."
    )


@log.command()
@click.argument("event", type=int)
@click.pass_context
def prove(ctx: click.Context, event: int) -> None:
    """Print an inclusion proof of EVENT (its number) against the latest checkpoint.

    \b
    Example:
      clearance log prove 42 > proof-42.json
    """
    click.echo(json.dumps(client(ctx).log_prove(event), indent=2))


@log.command()
@click.argument("old", metavar="FROM", type=click.IntRange(min=1))
@click.argument("new", metavar="[TO]", type=click.IntRange(min=1), required=False)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Also save it to FILE.")
@click.pass_context
def consistency(ctx: click.Context, old: int, new: int | None, output: str | None) -> None:
    """Print an RFC 9162 consistency proof from the tree of FROM events to the signed
    checkpoint of TO events (default: the latest). With it, `pack verify --checkpoint NEWER
    --consistency PROOF` shows that an older pack's log is a prefix of the newer one.

    \b
    Example:
      clearance log consistency 120 -o proof-120.json
    """
    text = json.dumps(client(ctx).log_consistency(old, new), indent=2) + "\n"
    if output:
        Path(output).write_text(text)
    click.echo(text, nl=False)


@log.command()
@click.option("--after", type=int, default=0, show_default=True, help="Start after this event.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--subject", help="Only events about this digest or system id.")
@click.pass_context
def show(ctx: click.Context, after: int, limit: int, subject: str | None) -> None:
    """List events a page at a time, oldest first, as JSON lines.

    \b
    Example:
      clearance log show --after 100 --limit 50
    """
    from clearance.store import repository as repo

    with workspace(ctx).engine.connect() as conn:
        page = repo.events(conn, subjects=[subject] if subject else None, after=after, limit=limit)
    for event in page:
        click.echo(json.dumps({**event.as_json(), "leaf_hash": event.leaf_hash}))
    if len(page) == limit:
        click.echo(f"more: clearance log show --after {page[-1].seq} --limit {limit}", err=True)
