"""`clearance schema` and `clearance plan validate|submit|history|diff`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from clearance.cli.output import client, console, key_option, load, plan_argument, short, workspace

if TYPE_CHECKING:
    from clearance.errors import Problem


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
    from clearance.client.base import missing_artifacts
    from clearance.errors import PlanError

    try:
        local = load(ctx, plan)
    except PlanError as exc:
        # A plan the schema refuses still names its artifacts: report the missing ones in
        # the same run, so fixing the schema does not reveal a second round of problems.
        extra = [p for p in _missing_raw_artifacts(Path(plan)) if p not in exc.problems]
        problems = sorted([*exc.problems, *extra], key=lambda p: (p.line or 0, p.column or 0))
        raise PlanError(problems, exc.document) from None
    missing = missing_artifacts(local)
    if missing:
        raise PlanError(missing)
    loaded = local.loaded
    p = loaded.plan
    console().print(
        f"{plan}: valid — system {p.system.id}, release {p.release.version} "
        f"({p.release.source} → {p.release.target}), {len(p.components)} component(s), "
        f"{len(p.criteria)} criteria; revision {loaded.revision}"
    )


def _missing_raw_artifacts(path: Path) -> list[Problem]:
    """Missing artifact files named by a plan that did not validate, read from its raw YAML
    (nothing if the YAML itself does not parse)."""
    import yaml

    from clearance.core.policy import yaml_positions
    from clearance.errors import Problem

    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []
    components = data.get("components") if isinstance(data, dict) else None
    if not isinstance(components, list):
        return []
    position = yaml_positions(text, str(path))
    problems = []
    for i, comp in enumerate(components):
        artifact = comp.get("artifact") if isinstance(comp, dict) else None
        if not isinstance(artifact, str) or not artifact or (path.parent / artifact).exists():
            continue
        line, column = position(("components", i, "artifact")) or (None, None)
        name = comp.get("name", f"#{i + 1}")
        problems.append(
            Problem(
                str(path),
                line,
                column,
                f"components[{i}].artifact",
                f"component {name}: artifact {artifact} not found (looked in "
                f"{(path.parent / artifact).parent.absolute()}); build it first or give its "
                "digest instead",
            )
        )
    return problems


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
    """Show what changed between two plans: components, criteria, environments, ...

    Each side is a plan file (validated as `plan validate` does) or a recorded revision
    (its digest, or at least 6 of its hex digits, as `plan history` shows).

    \b
    Examples:
      clearance plan diff 3f2a9c 8b1d07
      clearance plan diff 3f2a9c plan.yaml      # the released revision vs your edit
    """
    from clearance.core.diff import diff_plans

    old, new = _side(ctx, before), _side(ctx, after)
    changes = diff_plans(old[2], new[2])
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "before": old[1],
                    "after": new[1],
                    "changes": [c.as_json() for c in changes],
                },
                indent=2,
            )
        )
        return
    out = console()
    from rich.markup import escape

    out.print(f"{escape(old[0])} → {escape(new[0])}: {len(changes)} change(s)")
    marks = {"added": "[green]+[/]", "removed": "[red]-[/]", "changed": "[yellow]~[/]"}
    for change in changes:
        out.print(f"  {marks[change.change]} {escape(str(change))}")


def _side(ctx: click.Context, ref: str) -> tuple[str, str, dict[str, Any]]:
    """(label, revision digest, document) of a plan file or a recorded revision."""
    path = Path(ref)
    if path.is_file() or path.suffix in (".yaml", ".yml", ".json"):
        loaded = load(ctx, ref).loaded  # a missing .yaml is "no such file", not "no revision"
        return f"{ref} ({short(loaded.revision)})", loaded.revision, loaded.document
    from clearance.errors import UsageError
    from clearance.services.plans import find_revision

    bare = ref.removeprefix("sha256:")
    if len(bare) < 6 or any(c not in "0123456789abcdef" for c in bare):
        raise UsageError(
            f'"{ref}" is neither a plan file nor a revision digest; give a plan file, or at '
            "least 6 hex digits of a revision as `clearance plan history SYSTEM` shows"
        )
    found = find_revision(workspace(ctx), ref)
    return short(found.digest), found.digest, found.document


def _full_revision(ref: str) -> str:
    from clearance.errors import UsageError

    digest = ref if ref.startswith("sha256:") else f"sha256:{ref}"
    if len(digest) != 71 or any(c not in "0123456789abcdef" for c in digest[7:]):
        raise UsageError(f'--parent "{ref}" is not a revision digest (sha256:<64 hex>)')
    return digest
