"""`clearance check`: the release gate, for people (table) and machines (json, junit, sarif,
markdown, GitHub annotations, a pull-request comment)."""

from __future__ import annotations

import io
import json
import socket
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, redirect_stdout
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from clearance.cli.output import (
    STATUS_STYLE,
    client,
    console,
    key_option,
    plan_argument,
    progress,
    short,
)
from clearance.core.controls import unmapped_criteria
from clearance.exports.checkjson import check_json
from clearance.exports.junit import render_junit
from clearance.exports.markdown import render_markdown
from clearance.exports.matrix import packaged_catalogue
from clearance.exports.nextactions import as_command
from clearance.exports.sarif import render_sarif
from clearance.exports.values import blocking_note, brief

if TYPE_CHECKING:
    from clearance.client.base import LocalPlan
    from clearance.core.controls import Unmapped
    from clearance.core.decision import Evaluation
    from clearance.core.diff import Change
    from clearance.exports.prcomment import Baseline


FORMATS = ["table", "json", "junit", "sarif", "markdown", "github", "pr"]


@click.command()
@plan_argument
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="table",
    help="table for people; json (schema: `clearance schema --output json`), junit, sarif "
    "(SARIF 2.1.0) or markdown for CI; github: workflow annotations; pr: a pull-request "
    "comment (what changed since the released revision, what blocks).",
)
@click.option(
    "--also",
    "also",
    multiple=True,
    metavar="FORMAT=FILE",
    help="Also write this evaluation in FORMAT to FILE (repeatable), e.g. junit=gate.xml.",
)
@key_option
@click.pass_context
def check(
    ctx: click.Context, plan: str, fmt: str, also: tuple[str, ...], key_file: str | None
) -> None:
    """Evaluate every criterion from evidence and record the decision.

    Submits the revision if it is new and ingests the evidence files the plan names.
    Signed by your identity when you have one; anyone may check, and a check without an
    identity is recorded as unsigned. Exit 0 on GO, 1 on NO-GO.

    \b
    Examples:
      clearance check plan.yaml --format json
      clearance check plan.yaml --format github --also junit=gate.xml --also pr=comment.md
    """
    outputs = [_also(spec) for spec in also]  # refused before anything is recorded
    me = client(ctx, key_file)
    local = me.plan(Path(plan))
    started, clock = datetime.now(UTC), time.monotonic()
    with progress() as bar:
        evaluation = me.check(local, bar).evaluation
    seconds = time.monotonic() - clock
    render(fmt, evaluation, local, plan, started=started, seconds=seconds)
    for extra, path in outputs:
        with _captured() as text:
            render(extra, evaluation, local, plan, started=started, seconds=seconds)
        _write(path, text.getvalue())
    sys.exit(0 if evaluation.decision == "GO" else 1)


def _also(spec: str) -> tuple[str, Path]:
    from clearance.errors import UsageError

    fmt, sep, file = spec.partition("=")
    if not sep or not file or fmt not in FORMATS or fmt == "table":
        raise UsageError(
            f"--also {spec}: give FORMAT=FILE, FORMAT one of "
            f"{', '.join(f for f in FORMATS if f != 'table')} (e.g. --also junit=gate.xml)"
        )
    path = Path(file)
    if path.is_dir():
        raise UsageError(f"--also {spec}: {file} is a folder; name a file")
    return fmt, path


@contextmanager
def _captured() -> Iterator[io.StringIO]:
    """What click.echo writes while rendering one more format, kept from standard output."""
    buffer = io.StringIO()
    with redirect_stdout(buffer):
        yield buffer


def _write(path: Path, text: str) -> None:
    """Replace `path` whole (a reader never sees half a report)."""
    import os

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")  # the umask's mode, as `>` in a shell
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def render(
    fmt: str,
    evaluation: Evaluation,
    local: LocalPlan,
    plan_file: str,
    *,
    started: datetime,
    seconds: float,
) -> None:
    """Print the evaluation of the plan `local` (given as `plan_file`) in format `fmt`, with a
    warning for each passing criterion that covers no control requirement."""
    loaded = local.loaded
    system, version = loaded.plan.system.id, loaded.plan.release.version
    warnings = unmapped_criteria(
        packaged_catalogue(),
        [r.as_json() for r in evaluation.results],
        {c.id: c.controls for c in loaded.plan.criteria},
    )
    if fmt == "json":
        body = check_json(
            evaluation, system=system, version=version, revision=loaded.revision, warnings=warnings
        )
        click.echo(json.dumps(body, indent=2))
    elif fmt == "junit":
        click.echo(
            render_junit(
                evaluation,
                system,
                timestamp=started,
                seconds=seconds,
                hostname=socket.gethostname(),
                version=version,
                revision=loaded.revision,
                warnings=warnings,
            )
        )
    elif fmt == "sarif":
        from clearance import __version__

        click.echo(
            render_sarif(
                evaluation,
                plan_file=plan_file,
                tool_version=__version__,
                positions=_criterion_positions(local, plan_file),
                titles={c.id: c.title for c in loaded.plan.criteria if c.title},
                system=system,
                version=version,
                revision=loaded.revision,
                warnings=warnings,
            )
        )
    elif fmt == "markdown":
        click.echo(render_markdown(evaluation, system, version, plan_file, warnings))
    elif fmt == "github":
        from clearance.exports.github import render_github

        click.echo(
            render_github(
                evaluation,
                plan_file=plan_file,
                positions=_criterion_positions(local, plan_file),
                titles={c.id: c.title for c in loaded.plan.criteria if c.title},
                system=system,
                version=version,
                warnings=warnings,
            )
        )
    elif fmt == "pr":
        from clearance.exports.prcomment import render_pr_comment

        click.echo(
            render_pr_comment(
                evaluation,
                system=system,
                version=version,
                target=loaded.plan.release.target,
                revision=loaded.revision,
                baseline=_baseline(local, evaluation.candidate),
                plan_file=plan_file,
                warnings=warnings,
            )
        )
    else:
        show_table(evaluation, system, version, plan_file=plan_file, warnings=warnings)


def _baseline(local: LocalPlan, evaluation_candidate: str) -> Baseline | None:
    """The revision released in the plan's target and the changes since, read from this
    workspace or from the server the command acts on."""
    from clearance.core.diff import diff_plans
    from clearance.exports.prcomment import Baseline

    ctx = click.get_current_context()
    plan = local.loaded.plan
    found = released_document(ctx, plan.system.id, plan.release.target)
    if found is None:
        return None
    release_id, version, revision, document, released_pins = found
    changes = diff_plans(document, local.loaded.document)
    changes += _artifact_changes(released_pins, current_pins(ctx, evaluation_candidate))
    return Baseline(version, revision, release_id, changes)


def _artifact_changes(before: dict[str, str], after: dict[str, str]) -> list[Change]:
    """Components whose digest changed while the plan may not say so (a retrained model or
    an edited prompt under the same version): a reviewer must see those too."""
    from clearance.core.diff import Change

    return [
        Change("components", name, "changed", "digest", short(before[name]), short(digest))
        for name, digest in sorted(after.items())
        if name in before and before[name] != digest
    ]


def current_pins(ctx: click.Context, candidate: str) -> dict[str, str]:
    """The component digests of `candidate`, by name."""
    if ctx.find_root().obj.server:
        from clearance.client.remote import RemoteClient

        remote = client(ctx)
        assert isinstance(remote, RemoteClient)
        found = remote.call("GET", f"/candidates/{candidate}")
        return {c["name"]: c["digest"] for c in found["components"]}
    from clearance.cli.output import workspace
    from clearance.store import repository as repo

    with workspace(ctx).engine.connect() as conn:
        record = repo.get_candidate(conn, candidate)
    return {c.name: c.digest for c in record.components} if record else {}


def released_document(
    ctx: click.Context, system_id: str, target: str
) -> tuple[int, str, str, dict[str, Any], dict[str, str]] | None:
    """(release id, version, revision digest, plan document, component digests by name) of
    the release current in `target`; None before the first release."""
    root = ctx.find_root()
    if root.obj.server:
        from clearance.client.remote import RemoteClient

        remote = client(ctx)
        assert isinstance(remote, RemoteClient)
        current = None
        cursor: str | None = None
        while True:  # the releases, oldest first, a page at a time
            page = remote.call("GET", "/releases", params={"cursor": cursor} if cursor else {})
            for r in page["items"]:
                if r["system_id"] == system_id and r["target"] == target:
                    current = r
            cursor = page.get("next_cursor")
            if not cursor:
                break
        if current is None:
            return None
        candidate = remote.call("GET", f"/candidates/{current['candidate']}")
        revision = remote.call("GET", f"/revisions/{candidate['revision']}")
        pins = {c["name"]: c["digest"] for c in candidate["components"]}
        return current["id"], current["version"], revision["digest"], revision["document"], pins
    from clearance.cli.output import workspace
    from clearance.services.releases import released_revision

    local_found = released_revision(workspace(ctx), system_id, target)
    if local_found is None:
        return None
    release, rev = local_found
    return (
        release.id,
        release.version,
        rev.digest,
        rev.document,
        current_pins(ctx, release.candidate),
    )


def _criterion_positions(local: LocalPlan, plan_file: str) -> dict[str, tuple[int, int]]:
    """Where the plan file writes each of its criteria's ids; criteria the policy adds are not
    in it."""
    from clearance.core.policy import yaml_positions

    written = local.loaded.written or local.loaded.plan
    position = yaml_positions(local.path.read_text(encoding="utf-8"), plan_file)
    found = {}
    for i, criterion in enumerate(written.criteria):
        at = position(("criteria", i, "id"))
        if at is not None:
            found[criterion.id] = at
    return found


def show_table(
    evaluation: Evaluation,
    system: str,
    version: str,
    plan_file: str | None = None,
    warnings: Sequence[Unmapped] = (),
) -> None:
    """One row per criterion; under each reason, dim `next:` lines with the commands that move
    it on, for `plan_file` (by default the PLAN argument of the running command); then the
    decision and the warnings about the plan."""
    from rich.markup import escape
    from rich.table import Table

    if plan_file is None:
        running = click.get_current_context(silent=True)
        plan_file = str(running.params.get("plan") or "PLAN") if running else "PLAN"

    table = Table(
        title=f"{system} {version} — candidate {short(evaluation.candidate)}", show_lines=True
    )
    table.add_column("Criterion", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    table.add_column("Observed", ratio=1, max_width=20)
    table.add_column("Expected", ratio=1, max_width=20)
    table.add_column("Reason", ratio=3, min_width=30)
    for r in evaluation.results:
        style = STATUS_STYLE.get(r.status.value, "")
        name = f"{escape(r.id)}\n[dim]{r.kind}{' · advisory' if r.advisory else ''}[/]"
        table.add_row(
            name,
            f"[{style}]{r.status.value}[/]",
            escape(brief(r.observed)),
            escape(brief(r.expected)),
            escape(r.reason)
            + "".join(f"\n[dim]next: {escape(as_command(a, plan_file))}[/]" for a in r.next),
        )
    out = console()
    out.print(table)
    style = STATUS_STYLE[evaluation.decision]
    blocking = evaluation.blocking()
    out.print(
        f"Decision: [{style}]{evaluation.decision}[/]"
        + (f" — {blocking_note(len(blocking))}" if blocking else "")
    )
    for w in warnings:
        out.print(f"[yellow]warning:[/] {escape(w.message)}")
