"""A result's next actions rendered for people: as the `clearance` command that does it (the
CLI table, markdown for CI) and as a link to the page that offers it as a button.

Both are pure. Commands are one line that a POSIX shell reads back as the same arguments,
whatever the plan's file names, roles or people hold.
"""

from __future__ import annotations

import shlex
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from clearance.core.results import NextAction

__all__ = ["as_command", "as_link", "shell_word"]

#: how long a waiver proposed by the CLI lasts; the person waiving can change it
WAIVER_EXPIRY = "14d"
#: how long an acceptance of a finding proposed by the CLI lasts
ACCEPTANCE_EXPIRY = "30d"


def shell_word(text: str) -> str:
    """`text` as one shell word on one line: shlex quoting, or ANSI-C `$'…'` quoting when the
    text holds a character a single-quoted word would have to carry verbatim (a newline, a
    control character), so that a rendered command never spans lines."""
    if text.isprintable():
        return shlex.quote(text)
    out = []
    for char in text:
        if char in "\\'":
            out.append("\\" + char)
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:  # above, \xHH would be a raw byte, not the character
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return "$'" + "".join(out) + "'"


def _path_word(path: str) -> str:
    """A file argument: one shell word that the command cannot take for an option."""
    return shell_word("./" + path if path.startswith("-") else path)


def as_command(action: NextAction, plan_file: str) -> str:
    """The `clearance` command that takes `action` on the plan in `plan_file`. Placeholders a
    person must fill in are upper case: FILE (any file), ROLE, WHY. A plan edit is shown as
    the command that checks it, with the place to edit in a comment."""
    plan = _path_word(plan_file)
    criterion = shell_word(action.criterion)
    role = shell_word(action.role) if action.role else "ROLE"
    if action.kind == "approve":
        return f"clearance approve {plan} --role {role}"
    if action.kind == "withdraw":
        return f"clearance withdraw {plan} --role {role}"
    if action.kind == "waive":
        return (
            f"clearance waive {plan} --criterion {criterion} --role {role} "
            f"--expires {WAIVER_EXPIRY} -m WHY"
        )
    if action.kind == "accept" and action.about:
        scope, ident, where = (*action.about, "", "")[:3]
        named = (
            f"--vuln {shell_word(ident)} --package {shell_word(where)}"
            if scope == "vulnerability"
            else f"--rule {shell_word(ident)} --location {shell_word(where)}"
        )
        return (
            f"clearance finding accept {plan} --criterion {criterion} {named} --role {role} "
            f"--expires {ACCEPTANCE_EXPIRY} -m WHY"
        )
    if action.kind == "acknowledge" and action.about:
        return f"clearance acknowledge {plan} --party {shell_word(action.about[0])}"
    if action.kind == "fix_plan":
        field = action.field or ""
        shown = field if field.isprintable() else shell_word(field)
        return f"clearance plan validate {plan}  # after editing {shown}"
    # attach, update_evidence, rerun, rehearse: each ends by attaching a file
    path = _path_word(action.path) if action.path else "FILE"
    command = f"clearance evidence add {path} --plan {plan} --criterion {criterion}"
    return command + (f" --role {role}" if action.role else "")


def as_link(action: NextAction, base_url: str) -> str:
    """Where a page offers `action`: the criterion's page under `base_url` (the candidate's
    page, e.g. `/releases/sha256:…`), with the action's details as query parameters and its
    kind as the fragment: `/releases/sha256:…/criteria/uat?path=docs%2Fuat.md#attach`."""
    base = base_url.rstrip("/")
    params = [
        (name, value)
        for name, value in (
            ("path", action.path),
            ("role", action.role),
            ("person", action.person),
            ("field", action.field),
            ("about", "\n".join(action.about) if action.about else None),
        )
        if value
    ]
    query = f"?{urlencode(params, quote_via=quote)}" if params else ""
    anchor = action.kind.replace("_", "-")
    return f"{base}/criteria/{quote(action.criterion, safe='')}{query}#{anchor}"
