"""`clearance --help` without click: the top-level help page, written exactly as click writes
it (tests/cli/test_help.py compares the two at every width), so the most common first command
costs a Python start and textwrap, not click's 35 ms of imports.

This module imports nothing from Clearance or click; `clearance.cli.main` builds the click
group from the same names, descriptions and option texts.
"""

from __future__ import annotations

import os
import sys

USAGE = "clearance [OPTIONS] COMMAND [ARGS]..."

DESCRIPTION = """Clearance: deployment plans as code, a release gate that decides from evidence,
sign-offs bound to what they approve, and audit packs anyone can verify.

\b
Exit codes: 0 GO or success, 1 NO-GO, 2 bad input, 3 integrity failure,
69 server unreachable, 77 not permitted (or no valid API token).
Start with:  clearance init --template tabular-classifier"""

#: the help of the group's own options, by option name
OPTION_HELP = {
    "--workspace": "Workspace folder (default: ./.clearance).",
    "--identity": "Your private key: who acts (default: the identity `init` made here).",
    "--server": "Act on a Clearance server instead of a local workspace (CLEARANCE_SERVER); the "
    "token is read from CLEARANCE_TOKEN.",
    "--receipt": "Write the receipt of this command's write (event index + signed checkpoint) "
    "to FILE.",
}

#: the options as the help page lists them, in order (click adds --version and --help)
OPTIONS = [
    ("--workspace DIRECTORY", OPTION_HELP["--workspace"]),
    ("--identity FILE", OPTION_HELP["--identity"]),
    ("--server URL", OPTION_HELP["--server"]),
    ("--receipt FILE", OPTION_HELP["--receipt"]),
    ("--version", "Show the version and exit."),
    ("-h, --help", "Show this message and exit."),
]

#: every command: the module and attribute that define it, and its line in the help page
COMMANDS = {
    "init": (
        "clearance.cli.workspace:init",
        "Create a workspace here (and a plan from a template).",
    ),
    "schema": ("clearance.cli.plans:schema", "Print the JSON Schema of deployment plans."),
    "plan": ("clearance.cli.plans:plan", "Validate, submit, list and diff plan revisions."),
    "env": (
        "clearance.cli.environments:env",
        "Capture manifests; declare and list target environments.",
    ),
    "evidence": ("clearance.cli.evidence:evidence", "Attach evidence files to criteria."),
    "check": ("clearance.cli.gate:check", "Run the release gate: GO (exit 0) or NO-GO (exit 1)."),
    "approve": ("clearance.cli.approvals:approve", "Sign off the plan's candidate in a role."),
    "reject": ("clearance.cli.approvals:reject", "Reject the plan's candidate in a role."),
    "withdraw": ("clearance.cli.approvals:withdraw", "Withdraw your rejection of a candidate."),
    "waive": ("clearance.cli.approvals:waive", "Waive a criterion, with justification and expiry."),
    "people": ("clearance.cli.people:people", "Register people and their roles."),
    "keys": ("clearance.cli.people:keys", "Signing keys: generate, register, retire."),
    "policy": ("clearance.cli.policy:policy", "The organisation's minimum release criteria."),
    "attestation": ("clearance.cli.policy:attestation", "Export and verify release attestations."),
    "release": ("clearance.cli.releases:release", "Record the deployment of a GO candidate."),
    "status": ("clearance.cli.releases:status", "What runs where, and what waits for release."),
    "history": (
        "clearance.cli.releases:history",
        "A system's releases and rollbacks, per environment.",
    ),
    "export": ("clearance.cli.packs:export", "Write the audit pack of a release."),
    "pack": ("clearance.cli.packs:pack", "Verify audit packs offline."),
    "verify": ("clearance.cli.workspace:verify", "Re-hash the workspace's records and blobs."),
    "db": ("clearance.cli.workspace:db", "The workspace database: schema upgrades."),
    "waiver": ("clearance.cli.approvals:waiver", "Revoke waivers."),
    "finding": (
        "clearance.cli.findings:finding",
        "Scanner findings of a criterion: list them, accept one.",
    ),
    "acknowledge": (
        "clearance.cli.findings:acknowledge",
        "Acknowledge an interested party's impact and consideration.",
    ),
    "log": ("clearance.cli.log:log", "The audit log: checkpoints, verification, proofs."),
    "demo": ("clearance.cli.demo:demo", "Run the end-to-end demo in a new folder."),
    "serve": ("clearance.cli.server:serve", "Serve the REST API (a workspace or a team)."),
    "tokens": ("clearance.cli.server:tokens", "API tokens: create, list, revoke."),
    "share": ("clearance.cli.share:share", "Reviewer links: create, list, revoke, show."),
    "webhooks": (
        "clearance.cli.webhooks:webhooks",
        "Outbound webhooks: subscribe, list deliveries and dead letters, deliver.",
    ),
}

#: the widest help text, in columns (click's max_content_width)
MAX_WIDTH = 100


def width(max_width: int = MAX_WIDTH, forced: int | None = None) -> int:
    """The width click gives help text: the terminal's (COLUMNS, else the terminal stdout is,
    else 80) capped at `max_width`, less 2, and at least 50; `forced` is click's test width."""
    if forced is not None:
        return forced
    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return max(min(columns or 80, max_width) - 2, 50)


def render(width: int) -> str:
    """The top-level help page at `width` columns, as click prints it."""
    out = [f"Usage: {USAGE}\n", "\n", _paragraphs(DESCRIPTION, width, "  "), "\n"]
    for heading, rows in (
        ("Options", OPTIONS),
        ("Commands", [(name, COMMANDS[name][1]) for name in sorted(COMMANDS)]),
    ):
        out += ["\n", f"{heading}:\n", *_definitions(rows, width)]
    return "".join(out).rstrip("\n")


def _definitions(rows: list[tuple[str, str]], width: int, indent: int = 2) -> list[str]:
    """click's HelpFormatter.write_dl (first column at most 30 wide, 2 spaces after it)."""
    first_col = min(max(len(first) for first, _ in rows), 30) + 2
    text_width = max(width - first_col - 2, 10)
    out = []
    for first, second in rows:
        out.append(" " * indent + first)
        if len(first) <= first_col - 2:
            out.append(" " * (first_col - len(first)))
        else:
            out.append("\n" + " " * (first_col + indent))
        lines = _paragraphs(second, text_width, "").splitlines()
        out.append(lines[0] + "\n")
        out += [" " * (first_col + indent) + line + "\n" for line in lines[1:]]
    return out


def _paragraphs(text: str, width: int, indent: str) -> str:
    """click's wrap_text with preserve_paragraphs: paragraphs filled, a block after a line
    holding only \\b kept as it is."""
    import textwrap

    wrapper = textwrap.TextWrapper(
        width, initial_indent=indent, subsequent_indent=indent, replace_whitespace=False
    )
    done = []
    for block in text.expandtabs().split("\n\n"):
        lines = block.splitlines()
        if lines[0].strip() == "\b":
            done.append("\n".join(indent + line for line in lines[1:]))
        else:
            done.append(wrapper.fill(" ".join(line.strip() for line in lines)))
    return "\n\n".join(done)


def main() -> None:
    """The `clearance` command: `clearance --help` (or -h) is answered here; anything else
    goes to the click group in `clearance.cli.main`."""
    if sys.argv[1:] in (["--help"], ["-h"]):
        sys.stdout.write(render(width()) + "\n")
        sys.exit(0)
    from clearance.cli.main import main as run

    run()
