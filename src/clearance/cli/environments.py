"""`clearance env capture`."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import click

from clearance.cli.output import console


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
def capture(name: str, output: str) -> None:
    """Describe this machine as environment NAME: Python, packages, OS, CPU, accelerator.

    Nothing secret is captured: no host name, user name, paths or environment variables.

    \b
    Example:
      clearance env capture staging -o env/staging.json
    """
    from clearance.integrations.environment import capture_environment

    manifest = capture_environment(name)
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
    console().print(
        f"Captured {name}: Python {manifest['runtime']['python']}, "
        f"{len(manifest['packages'])} packages → {output}"
    )
