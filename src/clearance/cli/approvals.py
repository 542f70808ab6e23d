"""`clearance approve | reject | withdraw | waive`: signed sign-offs and waivers."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click

from clearance.cli.output import console, load, plan_argument, short, workspace


def key_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--key",
        "key_file",
        required=True,
        envvar="CLEARANCE_KEY",
        type=click.Path(dir_okay=False, exists=True),
        help="Your private signing key (from `clearance keys generate`); or CLEARANCE_KEY.",
    )(f)


def _sign(
    ctx: click.Context,
    plan: str,
    role: str,
    person: str,
    comment: str,
    key_file: str,
    decision: Literal["approve", "reject", "withdraw"],
) -> None:
    from clearance.services.approvals import sign
    from clearance.signing import SigningKey

    loaded = load(ctx, plan)
    recorded = sign(
        workspace(ctx), loaded, role, person, decision, comment, SigningKey.load(Path(key_file))
    )
    verb = {"approve": "Approved", "reject": "Rejected", "withdraw": "Withdrew the rejection of"}
    console().print(
        f"{verb[decision]} candidate {short(recorded.approval.candidate)} as {role} "
        f"({recorded.approval.person}); signed statement recorded."
    )


def _options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--as", "as_", required=True, metavar="PERSON", help="Who signs.")(f)
    f = click.option("--role", required=True, help="The role you sign in, as the plan names it.")(f)
    return plan_argument(key_option(f))


@click.command()
@_options
@click.option("-m", "--message", default="", help="Comment kept with the sign-off.")
@click.pass_context
def approve(
    ctx: click.Context, plan: str, role: str, as_: str, key_file: str, message: str
) -> None:
    """Sign off the plan's current candidate in ROLE. It counts for this candidate, with this
    evidence, only.

    \b
    Example:
      clearance approve plan.yaml --role model-risk --as dana@example.com --key dana.pem
    """
    _sign(ctx, plan, role, as_, message, key_file, "approve")


@click.command()
@_options
@click.option("-m", "--message", required=True, help="Why: what must change to approve.")
@click.pass_context
def reject(ctx: click.Context, plan: str, role: str, as_: str, key_file: str, message: str) -> None:
    """Reject the plan's current candidate; it stays NO-GO until you withdraw the rejection
    or a new candidate addresses it.

    \b
    Example:
      clearance reject plan.yaml --role model-risk --as dana@example.com --key dana.pem \\
          -m "Accuracy gap between groups too wide"
    """
    _sign(ctx, plan, role, as_, message, key_file, "reject")


@click.command()
@_options
@click.option("-m", "--message", default="", help="Why the rejection no longer stands.")
@click.pass_context
def withdraw(
    ctx: click.Context, plan: str, role: str, as_: str, key_file: str, message: str
) -> None:
    """Withdraw your rejection of the plan's current candidate.

    \b
    Example:
      clearance withdraw plan.yaml --role model-risk --as dana@example.com --key dana.pem
    """
    _sign(ctx, plan, role, as_, message, key_file, "withdraw")


@click.command()
@plan_argument
@click.option("--criterion", required=True, help="The criterion to waive.")
@click.option("--as", "as_", required=True, metavar="PERSON", help="Who waives.")
@click.option("--role", required=True, help="The role the policy lets waive it.")
@click.option("-m", "--message", required=True, help="Justification.")
@click.option("--expires", required=True, help="A duration such as 14d, or a date.")
@key_option
@click.pass_context
def waive(
    ctx: click.Context,
    plan: str,
    criterion: str,
    as_: str,
    role: str,
    message: str,
    expires: str,
    key_file: str,
) -> None:
    """Waive one criterion of the plan's current candidate, with a justification and expiry.

    \b
    Example:
      clearance waive plan.yaml --criterion f1 --as rita@example.com --role risk-officer \\
          --key rita.pem --expires 14d -m "F1 is advisory until the new labels arrive"
    """
    from clearance.services.approvals import waive as record_waiver
    from clearance.signing import SigningKey

    loaded = load(ctx, plan)
    record_waiver(
        workspace(ctx),
        loaded,
        criterion,
        as_,
        role,
        message,
        expires,
        SigningKey.load(Path(key_file)),
    )
    console().print(f"Waived {criterion} for candidate of {loaded.path.name} ({as_}, {role}).")
