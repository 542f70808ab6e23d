"""`clearance demo`: the whole story, end to end, on a fresh workspace."""

from __future__ import annotations

import sys

import click


@click.command()
@click.argument("directory", default="clearance-demo", type=click.Path(file_okay=False))
def demo(directory: str) -> None:
    """Train a model, gather evidence, get NO-GO, fix it, get GO, release, export the pack.

    \b
    Example:
      clearance demo ./clearance-demo
    """
    from pathlib import Path

    from clearance.demo import run_demo

    code = run_demo(Path(directory).absolute(), click.echo, [sys.executable, "-m", "clearance"])
    sys.exit(code)
