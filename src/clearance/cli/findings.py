"""`clearance finding list | accept` and `clearance acknowledge`: look at the findings of a
findings criterion, accept one of them, and acknowledge an interested party. Accepting and
acknowledging are statements signed with your own key; like the sign-offs they only sign
(run `clearance check` first, then act on what it shows). Every rule lives in
`services.findings`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from clearance.cli.output import client, console, key_option, plan_argument, short


@click.group()
def finding() -> None:
    """Findings of a findings criterion (scanner reports): list them, accept one."""


@finding.command("list")
@plan_argument
@click.option("--criterion", required=True, help="The findings criterion.")
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", help="Output."
)
@key_option
@click.pass_context
def list_findings(
    ctx: click.Context, plan: str, criterion: str, fmt: str, key_file: str | None
) -> None:
    """The findings of the reports attached to CRITERION of the plan's recorded candidate,
    worst first, each named the way `finding accept` takes it.

    \b
    Example:
      clearance finding list plan.yaml --criterion code-scan
    """
    from rich.markup import escape
    from rich.table import Table

    from clearance.core.findings import worst_first

    me = client(ctx, key_file)
    local = me.plan(Path(plan))
    found = worst_first(me.findings(local, criterion), "high")
    if fmt == "json":
        rows = [
            {
                "scope": f.scope,
                "id": f.ident,
                "where": f.where,
                "severity": f.severity,
                "tool": f.tool,
                "message": f.message,
                "suppressed": f.suppressed,
            }
            for f in found
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{criterion}: {len(found)} findings", show_lines=False)
    for column in ("Severity", "Finding", "Accept with", "Tool", "Message"):
        table.add_column(column)
    for f in found:
        option = (
            f"--vuln {f.ident} --package {f.where}"
            if f.scope == "vulnerability"
            else f"--rule {f.ident} --location {f.where}"
        )
        table.add_row(
            escape(f.severity or "unrated"),
            escape(f.describe()),
            escape(option),
            escape(f.tool),
            escape(" ".join(f.message.split())[:100])
            + (f" [dim](suppressed: {escape(f.suppressed)})[/]" if f.suppressed else ""),
        )
    console().print(table)


@finding.command("accept")
@plan_argument
@click.option("--criterion", required=True, help="The findings criterion.")
@click.option("--rule", help="The scanner's rule id (with --location).")
@click.option("--location", help="Where the rule matched: PATH:LINE as `check` shows it.")
@click.option("--vuln", help="The vulnerability id, e.g. CVE-2024-1234 (with --package).")
@click.option("--package", help="The affected package: NAME or NAME@VERSION.")
@click.option("--role", required=True, help="The role the policy lets accept findings.")
@click.option("--expires", required=True, help="A duration such as 30d, or a date.")
@click.option("-m", "--message", required=True, help="Justification.")
@key_option
@click.pass_context
def accept(
    ctx: click.Context,
    plan: str,
    criterion: str,
    rule: str | None,
    location: str | None,
    vuln: str | None,
    package: str | None,
    role: str,
    expires: str,
    message: str,
    key_file: str | None,
) -> None:
    """Accept one finding of a findings criterion of the plan's current candidate, with a
    justification and expiry (at most the policy's max_waiver). Only roles the policy names
    under accept_findings may; the plan's owner and authors never may. The finding stays
    shown as accepted, and counts again when the acceptance expires.

    \b
    Examples:
      clearance --identity sam.pem finding accept plan.yaml --criterion code-scan \\
          --rule B301 --location service/score.py:14 --role security --expires 30d \\
          -m "Only our own signed model files are unpickled"
      clearance --identity sam.pem finding accept plan.yaml --criterion deps \\
          --vuln PYSEC-2024-1 --package jinja2 --role security --expires 14d -m "Not reachable"
    """
    from clearance.core.durations import parse_expiry
    from clearance.errors import UsageError
    from clearance.store.records import to_time

    if bool(rule or location) == bool(vuln or package):
        raise UsageError(
            "name the finding either by --rule and --location, or by --vuln and --package"
        )
    if rule or location:
        if not (rule and location):
            raise UsageError("--rule and --location go together")
        named = ("rule", rule, location)
    else:
        if not (vuln and package):
            raise UsageError("--vuln and --package go together")
        named = ("vulnerability", vuln, package)
    me = client(ctx, key_file)
    local = me.plan(Path(plan))
    try:
        until = parse_expiry(expires, me.clock())
    except ValueError as exc:
        raise UsageError(f"--expires: {exc}") from None
    done = me.accept_finding(local, criterion, named, role, message, until)
    found = done.findings[0]
    severity = found.severity or "unrated"
    console().print(
        f"Accepted {found.describe()} ({severity}) of {criterion} for candidate "
        f"{short(done.candidate)} ({done.person}, {role}) until "
        f"{to_time(until)[:16].replace('T', ' ')} UTC."
    )


@click.command()
@plan_argument
@click.option("--party", required=True, help="The interested party, as the plan names it.")
@click.option("-m", "--message", default="", help="Comment kept with the acknowledgement.")
@key_option
@click.pass_context
def acknowledge(
    ctx: click.Context, plan: str, party: str, message: str, key_file: str | None
) -> None:
    """Acknowledge, for an interested party, the impact and consideration the plan writes
    for it, on the plan's current candidate. You must hold the role the party names
    (acknowledged_by); a changed text or a new candidate needs a new acknowledgement.

    \b
    Example:
      clearance --identity pat.pem acknowledge plan.yaml --party "Patients" \\
          -m "Reviewed with the patient panel"
    """
    me = client(ctx, key_file)
    done = me.acknowledge(me.plan(Path(plan)), party, message)
    console().print(
        f"Acknowledged {done.party} for candidate {short(done.candidate)} "
        f"({done.person}, {done.role}); signed statement recorded."
    )
