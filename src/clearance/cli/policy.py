"""`clearance policy set|show` and `clearance attestation export|verify|revoke|revocations`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from clearance.cli.output import console, key_option, local_client, plan_argument, workspace


@click.group()
def policy() -> None:
    """The organisation's minimum criteria per target, and who may waive what."""


@policy.command("set")
@click.argument("file", type=click.Path(dir_okay=False))
@key_option
@click.pass_context
def set_(ctx: click.Context, file: str, key_file: str | None) -> None:
    """Validate and record a policy (administrators only); it applies to every plan from
    now on.

    \b
    Example:
      clearance policy set policy.yaml
    """
    from clearance.client.paths import read_document
    from clearance.errors import UsageError
    from clearance.services.policy import policy_document, set_policy

    me = local_client(ctx, key_file)
    raw = read_document(Path(file), me.ws.settings.max_plan_bytes, "policy file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{file}: not UTF-8 text") from None
    document = policy_document(text, file)
    current, changed = set_policy(me.ws, me.admin_statement("policy.set", {"policy": document}))
    state = "Recorded" if changed else "Unchanged:"
    console().print(
        f"{state} policy {current.digest} (targets: "
        f"{', '.join(sorted(current.policy.targets)) or 'none'})"
    )


@policy.command()
@click.pass_context
def show(ctx: click.Context) -> None:
    """Print the current policy as JSON.

    \b
    Example:
      clearance policy show
    """
    from clearance.services.policy import policy_of

    current = policy_of(workspace(ctx))
    if current is None:
        console().print("No policy: plans carry only their own criteria; nothing can be waived.")
        return
    document = current.policy.model_dump(mode="json", by_alias=True, exclude_none=True)
    click.echo(json.dumps({"digest": current.digest, "policy": document}, indent=2))


@click.group()
def attestation() -> None:
    """Signed release attestations (in-toto Statement v1 in a DSSE envelope)."""


@attestation.command()
@plan_argument
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.pass_context
def export(ctx: click.Context, plan: str, output: str) -> None:
    """Write the attestation of the plan's current candidate's latest GO decision.

    \b
    Example:
      clearance attestation export plan.yaml -o release.intoto.json
    """
    from clearance.services.attestations import latest_attestation

    me = local_client(ctx)
    from clearance.signing.statements import shipped_bytes

    envelope = latest_attestation(me.ws, me.candidate(me.plan(Path(plan))))
    Path(output).write_bytes(shipped_bytes(envelope))  # byte for byte the pack's copy
    console().print(f"Wrote {output}")


@attestation.command()
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--subject",
    required=True,
    metavar="sha256:HEX",
    help="The artifact digest about to be deployed, as sha256:<64 hex>.",
)
@click.option(
    "--key",
    "key_file",
    type=click.Path(dir_okay=False, exists=True),
    help="The workspace public key (default: this workspace's).",
)
@click.option(
    "--target",
    metavar="NAME",
    help="The environment about to be deployed to: an attestation for another is refused.",
)
@click.option(
    "--revocations",
    "revocations_file",
    type=click.Path(dir_okay=False, exists=True),
    help="A revocation list (`clearance attestation revocations -o FILE`), signed by the key.",
)
@click.pass_context
def verify(
    ctx: click.Context,
    file: str,
    subject: str,
    key_file: str | None,
    target: str | None,
    revocations_file: str | None,
) -> None:
    """Exit 0 only if FILE is signed by the key, covers SUBJECT, says GO, has not expired,
    is for --target and is not in the --revocations list; else 3 with the reasons.

    \b
    Example:
      clearance attestation verify release.intoto.json --subject sha256:ab12… \\
          --key ws.pub --target production --revocations revocations.json
    """
    from datetime import UTC, datetime

    from clearance.errors import IntegrityError
    from clearance.signing.statements import load_public_key, subject_digest

    subject = subject_digest(subject)
    if key_file:
        from clearance.client.paths import read_document

        raw = load_public_key(read_document(Path(key_file), 64 * 1024, "public key"))
    else:
        raw = workspace(ctx).signing_key.public_raw
    from clearance.client.paths import read_document
    from clearance.signing.statements import verify_attestation

    limit = ctx.find_root().obj.max_plan_bytes
    revoked: dict[str, str] = {}
    issued = None
    if revocations_file:
        from clearance.services.revocations import read_revocation_list

        data = read_document(Path(revocations_file), limit, "revocation list")
        try:
            revoked, issued = read_revocation_list(data, raw)
        except IntegrityError as exc:
            raise IntegrityError(f"{revocations_file}: {exc.message}") from None
    failures = verify_attestation(
        read_document(Path(file), limit, "attestation"),
        subject,
        raw,
        target=target,
        now=datetime.now(UTC),
        revoked=revoked,
    )
    if failures:
        raise IntegrityError(f"{file} does not allow deploying {subject}:", failures)
    where = f" to {target}" if target else " (any target: give --target to check it)"
    checked = (
        f"; not revoked as of {issued[:16].replace('T', ' ')} UTC"
        if issued
        else "; revocations not checked (--revocations FILE)"
    )
    console().print(f"{file}: GO for {subject}{where}, signed by the workspace key{checked}.")


@attestation.command()
@plan_argument
@click.option("--reason", required=True, help="Why its attestations must no longer deploy.")
@key_option
@click.pass_context
def revoke(ctx: click.Context, plan: str, reason: str, key_file: str | None) -> None:
    """Revoke the release attestations of the plan's current candidate, in a revocation
    signed by the workspace key and logged. A rollback away from a candidate, or a later
    NO-GO of it, revokes its attestations by itself.

    \b
    Example:
      clearance attestation revoke plan.yaml --reason "CVE-2026-1234 in the scorer image"
    """
    from clearance.services.revocations import revoke as revoke_candidate

    me = local_client(ctx, key_file)
    candidate = me.candidate(me.plan(Path(plan)))
    revoke_candidate(me.ws, me.principal("attestation.revoke", required=True), candidate, reason)
    console().print(
        f"Revoked the attestations of candidate {candidate}; give deploy pipelines a new list: "
        "clearance attestation revocations -o revocations.json"
    )


@attestation.command()
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False))
@click.pass_context
def revocations(ctx: click.Context, output: str) -> None:
    """Write every revoked attestation as one list signed by the workspace key, for
    `attestation verify --revocations FILE` offline.

    \b
    Example:
      clearance attestation revocations -o revocations.json
    """
    from clearance.services.revocations import revocation_list

    envelope = revocation_list(workspace(ctx))
    Path(output).write_text(json.dumps(envelope, indent=2) + "\n")
    console().print(f"Wrote {output}")
