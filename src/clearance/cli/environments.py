"""`clearance env capture`."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from clearance.cli.output import console, key_option, local_client, workspace


@click.group()
def env() -> None:
    """Environment manifests: what a place runs (runtime, packages, OS, hardware)."""


@env.command()
@click.argument("name")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(dir_okay=False),
    help="Manifest file to write (.json, or .yaml/.yml).",
)
@click.option(
    "--python",
    "python",
    type=click.Path(),
    help="The application's interpreter (e.g. .venv/bin/python): its Python and packages "
    "are recorded, not Clearance's own.",
)
@click.option(
    "--requirements",
    type=click.Path(dir_okay=False),
    help="A lock file of name==version pins (pip-compile, uv, pip freeze): its packages are "
    "recorded.",
)
def capture(name: str, output: str, python: str | None, requirements: str | None) -> None:
    """Describe environment NAME: Python, packages, OS, CPU, accelerator.

    Record the application's environment, not Clearance's: give its interpreter with
    --python, or its lock file with --requirements (both: runtime from the interpreter,
    packages from the lock file). Without either, the Python running Clearance is recorded.
    Nothing secret is captured: no host name, user name, paths or environment variables.

    \b
    Examples:
      clearance env capture staging --python .venv/bin/python -o env/staging.json
      clearance env capture staging --requirements requirements.txt -o env/staging.json
    """
    from clearance.integrations.environment import capture_environment

    manifest = capture_environment(
        name,
        python=Path(python) if python else None,
        requirements=Path(requirements) if requirements else None,
    )
    path = Path(output)
    if path.suffix in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(manifest, sort_keys=False)
    else:
        text = json.dumps(manifest, indent=2) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(tmp, path)
    runtime = manifest.get("runtime")
    python_of = (
        f"Python {runtime['python']}"
        if runtime
        else "no Python version (a lock file does not say; add --python to record it)"
    )
    source = (
        f"from {requirements}"
        if requirements
        else f"of {python}"
        if python
        else "of the Python running Clearance (give --python or --requirements for the "
        "application's)"
    )
    console().print(
        f"Captured {name}: {python_of}, {len(manifest['packages'])} packages {source} → {output}"
    )


@env.command()
@click.argument("name")
@click.option("-d", "--description", default="", help="What this environment is.")
@key_option
@click.pass_context
def declare(ctx: click.Context, name: str, description: str, key_file: str | None) -> None:
    """Declare NAME a target environment plans may release to (administrators only).

    A plan whose release.target is not declared is refused, so no plan escapes the policy
    of `production` by naming its target `prod`.

    \b
    Example:
      clearance env declare production -d "Customer-facing cluster, eu-west-1"
    """
    from clearance.services.policy import declare_target

    me = local_client(ctx, key_file)
    envelope = me.admin_statement("target.declare", {"name": name, "description": description})
    declared, new = declare_target(me.ws, envelope)
    console().print(f"{'Declared' if new else 'Already declared:'} target environment {declared}")


@env.command("list")
@click.pass_context
def list_targets(ctx: click.Context) -> None:
    """List the declared target environments.

    \b
    Example:
      clearance env list
    """
    from clearance.services.policy import targets

    found = targets(workspace(ctx))
    if not found:
        console().print("No target environments declared; `clearance env declare NAME`.")
    for t in found.values():
        console().print(
            f"{t.name}\t{t.description or '-'}\tdeclared by {t.declared_by} "
            f"on {t.created_at:%Y-%m-%d}"
        )
