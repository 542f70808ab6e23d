"""`clearance schema` and `clearance plan validate|submit|history|diff`."""

from __future__ import annotations

import json
from pathlib import Path

import click

from clearance.cli.output import client, console, key_option, load, plan_argument, short, workspace


@click.command()
@click.option(
    "--output",
    "output",
    type=click.Choice(["json"]),
    help="Print the schema of a command's output instead: json = `check --format json`.",
)
def schema(output: str | None) -> None:
    """Print the JSON Schema of deployment plans (for editors and CI linters), or with
    --output, of a command's machine-readable output.

    \b
    Examples:
      clearance schema > plan.schema.json
      clearance schema --output json > check.schema.json
    """
    if output == "json":
        from clearance.exports.checkjson import check_json_schema

        document = check_json_schema()
    else:
        from clearance.core.plan import plan_json_schema

        document = plan_json_schema()
    click.echo(json.dumps(document, indent=2, sort_keys=True))


@click.group()
def plan() -> None:
    """Deployment plans: validate, submit revisions, history, semantic diff."""


@plan.command()
@plan_argument
@click.pass_context
def validate(ctx: click.Context, plan: str) -> None:
    """Check a plan and report every problem with file:line:column (exit 2 if invalid).

    \b
    Example:
      clearance plan validate plan.yaml
    """
    loaded = load(ctx, plan).loaded
    p = loaded.plan
    console().print(
        f"{plan}: valid — system {p.system.id}, release {p.release.version} "
        f"({p.release.source} → {p.release.target}), {len(p.components)} component(s), "
        f"{len(p.criteria)} criteria; revision {loaded.revision}"
    )


@plan.command()
@plan_argument
@click.option("-m", "--message", required=True, help="What changed in this revision.")
@click.option(
    "--parent",
    metavar="REV",
    help="The revision your edit started from: refused (exit 1) if another came since.",
)
@key_option
@click.pass_context
def submit(
    ctx: click.Context, plan: str, message: str, parent: str | None, key_file: str | None
) -> None:
    """Record the plan as a new immutable revision (nothing happens if it is unchanged).

    \b
    Example:
      clearance plan submit plan.yaml -m "Raise the AUC threshold"
    """
    me = client(ctx, key_file)
    sub = me.submit(me.plan(Path(plan)), message, _full_revision(parent) if parent else None)
    what = "Submitted revision" if sub.new_revision else "Revision already recorded:"
    console().print(f"{what} {sub.revision}")
    console().print(f"Candidate {sub.candidate}")


@plan.command()
@click.argument("system")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
@click.pass_context
def history(ctx: click.Context, system: str, fmt: str) -> None:
    """List a system's plan revisions: author, time, message, digest, approved/GO/released.

    \b
    Example:
      clearance plan history credit-scoring
    """
    from clearance.services.plans import history as load_history

    entries = load_history(workspace(ctx), system)
    if fmt == "json":
        click.echo(
            json.dumps(
                [
                    {
                        "digest": e.revision.digest,
                        "version": e.revision.version,
                        "author": e.revision.author,
                        "message": e.revision.message,
                        "created_at": e.revision.created_at.isoformat(),
                        "approved": e.approved,
                        "go": e.go,
                        "released": e.released,
                    }
                    for e in entries
                ],
                indent=2,
            )
        )
        return
    from rich.table import Table

    table = Table(title=f"Plan revisions of {system}")
    for col in (
        "Revision",
        "Version",
        "Author",
        "When (UTC)",
        "Message",
        "Approved",
        "GO",
        "Released",
    ):
        table.add_column(col)
    for e in entries:
        r = e.revision
        table.add_row(
            short(r.digest),
            r.version,
            r.author,
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.message,
            _yes(e.approved),
            _yes(e.go),
            _yes(e.released),
        )
    console().print(table)


def _yes(flag: bool) -> str:
    return "[green]yes[/]" if flag else "—"


@plan.command()
@click.argument("before")
@click.argument("after")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def diff(ctx: click.Context, before: str, after: str, fmt: str) -> None:
    """Show what changed between two revisions: components, criteria, environments, ...

    \b
    Example:
      clearance plan diff 3f2a9c 8b1d07
    """
    from clearance.services.plans import diff as plan_diff

    old, new, changes = plan_diff(workspace(ctx), before, after)
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "before": old.digest,
                    "after": new.digest,
                    "changes": [c.as_json() for c in changes],
                },
                indent=2,
            )
        )
        return
    out = console()
    from rich.markup import escape

    out.print(f"{short(old.digest)} → {short(new.digest)}: {len(changes)} change(s)")
    marks = {"added": "[green]+[/]", "removed": "[red]-[/]", "changed": "[yellow]~[/]"}
    for change in changes:
        out.print(f"  {marks[change.change]} {escape(str(change))}")


def _full_revision(ref: str) -> str:
    from clearance.errors import UsageError

    digest = ref if ref.startswith("sha256:") else f"sha256:{ref}"
    if len(digest) != 71 or any(c not in "0123456789abcdef" for c in digest[7:]):
        raise UsageError(f'--parent "{ref}" is not a revision digest (sha256:<64 hex>)')
    return digest
