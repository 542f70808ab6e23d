"""`clearance approve` and `clearance reject`."""

from __future__ import annotations

from typing import Literal

import click

from clearance.cli.output import console, load, plan_argument, short, workspace


def _sign(
    ctx: click.Context,
    plan: str,
    role: str,
    person: str,
    comment: str,
    decision: Literal["approve", "reject"],
) -> None:
    from clearance.services.approvals import sign

    loaded = load(ctx, plan)
    recorded = sign(workspace(ctx), loaded, role, person, decision, comment)
    verb = "Approved" if decision == "approve" else "Rejected"
    console().print(
        f"{verb} candidate {short(recorded.approval.candidate)} as {role} "
        f"({recorded.approval.person})."
    )


@click.command()
@plan_argument
@click.option("--role", required=True, help="The role you sign in, as the plan names it.")
@click.option("--as", "as_", required=True, metavar="PERSON", help="Who signs.")
@click.option("-m", "--message", default="", help="Comment kept with the sign-off.")
@click.pass_context
def approve(ctx: click.Context, plan: str, role: str, as_: str, message: str) -> None:
    """Sign off the plan's current candidate in ROLE. It counts for this candidate only.

    \b
    Example:
      clearance approve plan.yaml --role model-risk --as dana@example.com -m "Fairness OK"
    """
    _sign(ctx, plan, role, as_, message, "approve")


@click.command()
@plan_argument
@click.option("--role", required=True, help="The role you reject in.")
@click.option("--as", "as_", required=True, metavar="PERSON", help="Who rejects.")
@click.option("-m", "--message", required=True, help="Why: what must change to approve.")
@click.pass_context
def reject(ctx: click.Context, plan: str, role: str, as_: str, message: str) -> None:
    """Reject the plan's current candidate; it stays NO-GO while the rejection stands.

    \b
    Example:
      clearance reject plan.yaml --role model-risk --as dana@example.com -m "Gap too wide"
    """
    _sign(ctx, plan, role, as_, message, "reject")
