"""`clearance init` and `clearance verify`."""

from __future__ import annotations

from pathlib import Path

import click

from clearance.cli.output import console, workspace


@click.command()
@click.option(
    "--template", metavar="NAME", help="Also write a starter plan: tabular-classifier or llm-app."
)
@click.option("--force", is_flag=True, help="Overwrite template files that already exist.")
@click.pass_context
def init(ctx: click.Context, template: str | None, force: bool) -> None:
    """Create a workspace in ./.clearance (SQLite, blob store, config).

    \b
    Example:
      clearance init --template tabular-classifier
    """
    from clearance.errors import UsageError

    files: dict[str, bytes] = {}
    if template:
        from clearance.templates import template_files

        files = template_files(template)
        clashes = [name for name in files if Path(name).exists()]
        if clashes and not force:
            raise UsageError(
                f"these files already exist: {', '.join(sorted(clashes))}; "
                "move them away or pass --force to overwrite"
            )
    ws = workspace(ctx)
    created = ws.create()
    out = console()
    state = "Created" if created else "Using existing"
    out.print(f"{state} workspace at {ws.settings.workspace}")
    for name, data in sorted(files.items()):
        target = Path(name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        out.print(f"  wrote {name}")
    if files:
        out.print(
            "Next: edit plan.yaml, then `clearance plan validate plan.yaml` and "
            "`clearance check plan.yaml`."
        )


@click.command()
@click.pass_context
def verify(ctx: click.Context) -> None:
    """Re-hash every blob and recompute every recorded digest (exit 3 on any mismatch).

    \b
    Example:
      clearance verify
    """
    from clearance.errors import IntegrityError
    from clearance.services.integrity import verify_workspace

    checked, failures = verify_workspace(workspace(ctx))
    if failures:
        raise IntegrityError(
            f"the workspace does not verify ({len(failures)} problem(s)):", failures
        )
    console().print(f"Workspace verified: {checked} records and every blob match their digests.")
