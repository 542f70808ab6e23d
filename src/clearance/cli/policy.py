"""`clearance policy set|show` and `clearance attestation export|verify`."""

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
    envelope = latest_attestation(me.ws, me.candidate(me.plan(Path(plan))))
    Path(output).write_text(json.dumps(envelope, indent=2) + "\n")
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
@click.pass_context
def verify(ctx: click.Context, file: str, subject: str, key_file: str | None) -> None:
    """Exit 0 only if FILE is signed by the key, covers SUBJECT and says GO; else 3.

    \b
    Example:
      clearance attestation verify release.intoto.json --subject sha256:ab12… --key ws.pub
    """
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
    failures = verify_attestation(read_document(Path(file), limit, "attestation"), subject, raw)
    if failures:
        raise IntegrityError(f"{file} does not allow deploying {subject}:", failures)
    console().print(f"{file}: GO for {subject}, signed by the workspace key.")
