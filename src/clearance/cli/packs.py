"""`clearance export` and `clearance pack verify`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from clearance.cli.output import client, console, key_option, plan_argument

if TYPE_CHECKING:
    from clearance.core.checkpoint import Checkpoint


@click.command()
@plan_argument
@click.option(
    "-o", "--output", required=True, type=click.Path(dir_okay=False), help="Zip file to write."
)
@key_option
@click.pass_context
def export(ctx: click.Context, plan: str, output: str, key_file: str | None) -> None:
    """Write the audit pack of the plan's current candidate.

    \b
    Example:
      clearance export plan.yaml -o audit-pack.zip
    """
    from pathlib import Path

    me = client(ctx, key_file)
    done = me.export(me.plan(Path(plan)), Path(output))
    console().print(f"Wrote {done.path} ({done.files} files) for candidate {done.candidate}")


@click.group()
def pack() -> None:
    """Audit packs: verify offline, with the pack and the workspace's public key."""


@pack.command()
@click.argument("pack_path", metavar="PACK", type=click.Path())
@click.option(
    "--key",
    "keys",
    multiple=True,
    metavar="PUB",
    help="The workspace's public key you trust: the file `clearance keys workspace -o FILE` "
    "wrote (PEM), or the raw key in base64. Repeat for a key the workspace rotated from.",
)
@click.option(
    "--fingerprint",
    "fingerprints",
    multiple=True,
    metavar="HEX",
    help="The sha256 of the workspace key you trust (with or without sha256:).",
)
@click.option(
    "--checkpoint",
    "kept_file",
    type=click.Path(dir_okay=False, exists=True),
    help="A checkpoint or receipt you kept: the pack must be signed by its key and its log "
    "must contain it.",
)
def verify(
    pack_path: str, keys: tuple[str, ...], fingerprints: tuple[str, ...], kept_file: str | None
) -> None:
    """Check the pack (a zip, or the folder it was extracted into) offline: every file against
    the manifest, every event against the log, evidence and revisions against their digests,
    approvals against events; and the manifest and log signed by a key you trust.

    Exit 0 when everything holds; 3 naming each thing that does not; 2 when you gave no key,
    fingerprint or checkpoint to trust: the pack's own keys prove nothing about who made it.

    \b
    Example:
      clearance keys workspace -o workspace.pub      # on the workspace
      clearance pack verify audit-pack.zip --key workspace.pub
    """
    from pathlib import Path

    from clearance.errors import IntegrityError, UsageError
    from clearance.exports.packverify import TrustAnchor, examine_pack

    trusted: list[bytes | str | Checkpoint] = [_public_key(k) for k in keys]
    trusted += fingerprints
    if kept_file:
        trusted.append(_kept(kept_file))
    anchor = TrustAnchor.of(trusted) if trusted else None
    report = examine_pack(Path(pack_path), anchor)
    if report.failures:
        raise IntegrityError(f"{pack_path} does not verify:", report.failures)
    if anchor is None:
        raise UsageError(_unpinned(pack_path, report.signer))
    signer = (report.signer or "").removeprefix("sha256:")
    console().print(
        f"{pack_path}: verified — signed by the key you trust ({signer[:16]}…), every file "
        "matches the signed manifest, and every event is proven in the signed log"
        + (" that contains your checkpoint." if kept_file else ".")
    )


def _public_key(given: str) -> bytes:
    """A --key: a file holding the key, or the raw key in base64 given on the line itself."""
    from pathlib import Path

    from clearance.errors import UsageError
    from clearance.signing.statements import load_public_key

    path = Path(given)
    if path.is_file():
        try:
            return load_public_key(path.read_bytes())
        except UsageError as exc:
            raise UsageError(f"--key {given}: {exc.message}") from None
    try:
        return load_public_key(given)
    except UsageError:
        raise UsageError(
            f"--key {given}: no such file, nor a base64 public key; give the file written by "
            "`clearance keys workspace -o workspace.pub` on the workspace"
        ) from None


def _kept(kept_file: str) -> Checkpoint:
    import json
    from pathlib import Path

    from clearance.core.checkpoint import Checkpoint
    from clearance.errors import UsageError

    try:
        data = json.loads(Path(kept_file).read_text())
        return Checkpoint.from_json(data.get("checkpoint", data))
    except (ValueError, AttributeError) as exc:
        raise UsageError(f"{kept_file}: not a checkpoint or receipt ({exc})") from None


def _unpinned(pack_path: str, signer: str | None) -> str:
    fp = (signer or "").removeprefix("sha256:")
    return (
        f"{pack_path} is intact, but nothing says who made it: anyone can build an intact pack "
        f"with a key of their own. It is signed by the key with fingerprint\n  {fp}\n"
        "Check it against the workspace's key: on the workspace run `clearance keys workspace "
        f"-o workspace.pub`, then `clearance pack verify {pack_path} --key workspace.pub`; or, "
        "once the workspace's owner has confirmed that fingerprint, "
        f"`clearance pack verify {pack_path} --fingerprint {fp}`."
    )
