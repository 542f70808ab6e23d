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
    "must contain it (or, for a newer checkpoint, be proven a prefix of it by --consistency).",
)
@click.option(
    "--consistency",
    "proof_file",
    type=click.Path(dir_okay=False, exists=True),
    help="An RFC 9162 consistency proof from the pack's log to the newer --checkpoint, as "
    "`clearance log consistency FROM TO -o FILE` writes it.",
)
def verify(
    pack_path: str,
    keys: tuple[str, ...],
    fingerprints: tuple[str, ...],
    kept_file: str | None,
    proof_file: str | None,
) -> None:
    """Check the pack (a zip, or the folder it was extracted into) offline: every file against
    the manifest, every event against the log, evidence and revisions against their digests,
    approvals against events; and the manifest and log signed by a key you trust.

    Exit 0 when everything holds; 3 naming each thing that does not; 2 when you gave no key,
    fingerprint or checkpoint to trust (the pack's own keys prove nothing about who made it),
    or when your checkpoint is newer than the pack and no consistency proof was given.

    \b
    Example:
      clearance keys workspace -o workspace.pub      # on the workspace
      clearance pack verify audit-pack.zip --key workspace.pub
      clearance pack verify old-pack.zip --key workspace.pub \\
          --checkpoint latest.note --consistency proof.json
    """
    from pathlib import Path

    from clearance.errors import IntegrityError, UsageError
    from clearance.exports.packverify import TrustAnchor, examine_pack

    trusted: list[bytes | str | Checkpoint] = [_public_key(k) for k in keys]
    trusted += fingerprints
    proof = None
    if kept_file:
        kept, proof = _kept(kept_file)
        trusted.append(kept)
    if proof_file:
        if not kept_file:
            raise UsageError("--consistency proves a pack against a newer --checkpoint; give both")
        proof = _proof(proof_file)
    anchor = TrustAnchor.of(trusted) if trusted else None
    report = examine_pack(Path(pack_path), anchor, proof)
    if report.failures:
        raise IntegrityError(f"{pack_path} does not verify:", report.failures)
    if anchor is None:
        raise UsageError(_unpinned(pack_path, report.signer))
    if report.older:
        raise UsageError(f"{pack_path}: {report.older}")
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


def _kept(kept_file: str) -> tuple[Checkpoint, list[bytes] | None]:
    """The kept checkpoint (a signed note, a receipt or checkpoint JSON) and, for an export's
    receipt, the consistency proof it carries from the pack's log to its checkpoint."""
    import json
    from pathlib import Path

    from clearance.core.checkpoint import Checkpoint
    from clearance.errors import UsageError

    try:
        text = Path(kept_file).read_text(encoding="utf-8")
        kept = Checkpoint.parse_kept(text)
        data = json.loads(text) if text.lstrip().startswith("{") else {}
    except (ValueError, AttributeError, TypeError) as exc:
        raise UsageError(f"{kept_file}: not a checkpoint or receipt ({exc})") from None
    carried = data.get("consistency") if isinstance(data, dict) else None
    return kept, _hashes(carried, kept_file) if carried is not None else None


def _proof(proof_file: str) -> list[bytes]:
    import json
    from pathlib import Path

    from clearance.errors import UsageError

    try:
        data = json.loads(Path(proof_file).read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise UsageError(f"{proof_file}: not a consistency proof ({exc})") from None
    return _hashes(data, proof_file)


def _hashes(data: object, where: str) -> list[bytes]:
    """The node hashes of a consistency proof as `clearance log consistency` writes it."""
    from clearance.errors import UsageError

    hashes = data.get("proof") if isinstance(data, dict) else None
    try:
        if isinstance(hashes, list):
            return [bytes.fromhex(h) for h in hashes]
    except (TypeError, ValueError):
        pass
    raise UsageError(
        f"{where}: not a consistency proof (expected the JSON `clearance log consistency "
        "FROM TO -o FILE` writes, with a `proof` list of hex hashes)"
    )


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
