"""`clearance approve | reject | withdraw | waive` and `clearance waiver revoke`: statements
signed with your own key. They sign and record the statement, nothing else: they never
submit a plan or store files (run `clearance check` first, then sign off what it shows)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import click

from clearance.cli.output import client, console, key_option, plan_argument, short


def _sign(
    ctx: click.Context,
    plan: str,
    role: str,
    comment: str,
    key_file: str | None,
    decision: Literal["approve", "reject", "withdraw"],
) -> None:
    me = client(ctx, key_file)
    candidate = me.sign_off(me.plan(Path(plan)), role, decision, comment)
    verb = {"approve": "Approved", "reject": "Rejected", "withdraw": "Withdrew the rejection of"}
    console().print(
        f"{verb[decision]} candidate {short(candidate)} as {role} "
        f"({me.me.name}); signed statement recorded."
    )


def _options(f: Callable[..., Any]) -> Callable[..., Any]:
    f = click.option("--role", required=True, help="The role you sign in, as the plan names it.")(f)
    return plan_argument(key_option(f))


@click.command()
@_options
@click.option("-m", "--message", default="", help="Comment kept with the sign-off.")
@click.pass_context
def approve(ctx: click.Context, plan: str, role: str, key_file: str | None, message: str) -> None:
    """Sign off the plan's current candidate in ROLE, as the person whose key signs. It
    counts for this candidate, with this evidence, only.

    \b
    Example:
      clearance --identity dana.pem approve plan.yaml --role model-risk
    """
    _sign(ctx, plan, role, message, key_file, "approve")


@click.command()
@_options
@click.option("-m", "--message", required=True, help="Why: what must change to approve.")
@click.pass_context
def reject(ctx: click.Context, plan: str, role: str, key_file: str | None, message: str) -> None:
    """Reject the plan's current candidate; it stays NO-GO until you withdraw the rejection
    or a new candidate addresses it.

    \b
    Example:
      clearance --identity dana.pem reject plan.yaml --role model-risk \\
          -m "Accuracy gap between groups too wide"
    """
    _sign(ctx, plan, role, message, key_file, "reject")


@click.command()
@_options
@click.option("-m", "--message", default="", help="Why the rejection no longer stands.")
@click.pass_context
def withdraw(ctx: click.Context, plan: str, role: str, key_file: str | None, message: str) -> None:
    """Withdraw your rejection of the plan's current candidate.

    \b
    Example:
      clearance --identity dana.pem withdraw plan.yaml --role model-risk
    """
    _sign(ctx, plan, role, message, key_file, "withdraw")


@click.command()
@plan_argument
@click.option("--criterion", required=True, help="The criterion to waive.")
@click.option("--role", required=True, help="The role the policy lets waive it.")
@click.option("-m", "--message", required=True, help="Justification.")
@click.option("--expires", required=True, help="A duration such as 14d, or a date.")
@key_option
@click.pass_context
def waive(
    ctx: click.Context,
    plan: str,
    criterion: str,
    role: str,
    message: str,
    expires: str,
    key_file: str | None,
) -> None:
    """Waive one criterion of the plan's current candidate, with a justification and expiry
    (at most the policy's max_waiver, 90 days by default). The plan's owner and authors
    cannot waive its criteria.

    \b
    Example:
      clearance --identity rita.pem waive plan.yaml --criterion f1 --role risk-officer \\
          --expires 14d -m "F1 is advisory until the new labels arrive"
    """
    from clearance.core.durations import parse_expiry
    from clearance.errors import UsageError
    from clearance.store.records import to_time

    me = client(ctx, key_file)
    local = me.plan(Path(plan))
    try:
        until = parse_expiry(expires, me.clock())
    except ValueError as exc:
        raise UsageError(f"--expires: {exc}") from None
    candidate = me.waive(local, criterion, role, message, until)
    console().print(
        f"Waived {criterion} for candidate {short(candidate)} ({me.me.name}, {role}) "
        f"until {to_time(until)[:16].replace('T', ' ')} UTC."
    )


@click.group()
def waiver() -> None:
    """Waivers already granted: revoke one."""


@waiver.command()
@plan_argument
@click.option("--criterion", required=True, help="The criterion whose waiver to revoke.")
@click.option("-m", "--message", required=True, help="Why it is revoked.")
@key_option
@click.pass_context
def revoke(
    ctx: click.Context, plan: str, criterion: str, message: str, key_file: str | None
) -> None:
    """Revoke the standing waiver of a criterion of the plan's current candidate: its
    author, an administrator or a person the policy lets waive it may.

    \b
    Example:
      clearance waiver revoke plan.yaml --criterion f1 -m "New labels arrived"
    """
    me = client(ctx, key_file)
    person = me.revoke_waiver(me.plan(Path(plan)), criterion, message)
    console().print(f"Revoked the waiver of {criterion} by {person}.")
