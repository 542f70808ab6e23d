"""Where a plan's files may come from, and how documents are read under a size limit.

Every file a plan names must resolve, symbolic links followed, inside the plan's folder or
a folder an admin declared; never inside a workspace. Otherwise a plan could have Clearance
store the workspace's private key, or any file of the machine, and ship it in an audit pack.
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path, PurePath

from clearance.core.plan import Plan
from clearance.core.planfiles import plan_files
from clearance.core.policy import yaml_positions
from clearance.errors import PlanError, Problem, UsageError
from clearance.settings import WORKSPACE_DIRNAME

CONFIG_NAME = "config.json"
ROOTS_KEY = "evidence_roots"
MAX_CONFIG_BYTES = 1024 * 1024
_SEPARATORS = re.compile(r"[\\/]")


def check_plan_paths(
    plan: Plan,
    text: str,
    plan_path: Path,
    *,
    roots: Sequence[Path] = (),
    workspace_dir: Path | None = None,
) -> None:
    """Raise PlanError, one problem per file at the position naming it, unless every file
    the plan names stays inside the plan's folder or one of `roots`, and out of any
    workspace (`workspace_dir`, or any folder named .clearance)."""
    filename = str(plan_path)
    folder = plan_path.absolute().parent
    checker = _Containment(folder, roots, workspace_dir)
    position = yaml_positions(text, filename)
    problems = []
    for named in plan_files(plan):
        message = checker.problem(named.path)
        if message is not None:
            line, column = position(named.location) or (None, None)
            problems.append(Problem(filename, line, column, named.field, message))
    if problems:
        raise PlanError(sorted(problems, key=lambda p: (p.line or 0, p.column or 0)))


class _Containment:
    """The allowed folders and the workspace, resolved once for all of a plan's files."""

    def __init__(self, folder: Path, roots: Sequence[Path], workspace_dir: Path | None) -> None:
        self.folder = folder
        self.real_folder = PurePath(os.path.realpath(folder))
        self.allowed = [self.real_folder, *(PurePath(os.path.realpath(r)) for r in roots)]
        self.workspace = PurePath(os.path.realpath(workspace_dir)) if workspace_dir else None
        self.workspace_stat = _stat_or_none(self.workspace) if self.workspace else None
        #: ancestors already known not to be the workspace (files share their folders)
        self.not_workspace: set[PurePath] = set()
        self.fix = (
            f"move the file into the plan's folder ({folder}) and name it relative to the "
            f"plan, or ask an admin to declare its folder under {ROOTS_KEY} in the "
            f"workspace's {CONFIG_NAME}"
        )

    def problem(self, written: str) -> str | None:
        """What is wrong with the path as written, or None when it may be read."""
        if "\0" in written:
            return "the path contains a NUL character; name a file relative to the plan"
        if _has_workspace_part(_SEPARATORS.split(written)):
            return (
                f"{written} is inside a {WORKSPACE_DIRNAME} folder, which holds a workspace's "
                "keys, database and blobs; a plan cannot name workspace files, name the "
                "evidence file itself, kept in the plan's folder"
            )
        joined = os.path.join(self.folder, written)
        resolved = PurePath(os.path.realpath(joined))
        root = next((r for r in self.allowed if resolved.is_relative_to(r)), None)
        if root is None:
            return self._outside(written, PurePath(os.path.normpath(joined)), resolved)
        if self._in_workspace(resolved):
            where = (
                "the plan's folder is itself inside the workspace folder; keep plans and "
                "their files outside it"
                if self._in_workspace(self.real_folder)
                else "a plan cannot name workspace files; name the evidence file itself"
            )
            return (
                f"{written} leads into the workspace folder {self.workspace}, which holds its "
                f"keys, database and blobs; {where}"
            )
        if _has_workspace_part(resolved.relative_to(root).parts):
            return (
                f"{written} leads to {resolved}, inside a {WORKSPACE_DIRNAME} folder (a "
                "workspace's keys, database and blobs); a plan cannot name workspace files, "
                "name the evidence file itself, kept in the plan's folder"
            )
        return None

    def _outside(self, written: str, lexical: PurePath, resolved: PurePath) -> str:
        if os.path.isabs(written):
            what = f"{written} is an absolute path outside the plan's folder"
        elif any(lexical.is_relative_to(r) for r in self.allowed):
            what = (
                f"{written} is, or goes through, a symbolic link leading to {resolved}, "
                "outside the plan's folder"
            )
        else:
            what = f"{written} leads out of the plan's folder (to {resolved})"
        return f"{what}; {self.fix}"

    def _in_workspace(self, resolved: PurePath) -> bool:
        """Lexically under the workspace, or an existing ancestor that is the workspace's
        folder under another spelling (a case-insensitive file system, a bind mount)."""
        if self.workspace is None:
            return False
        if resolved.is_relative_to(self.workspace):
            return True
        if self.workspace_stat is None:
            return False
        for ancestor in (resolved, *resolved.parents):
            if ancestor in self.not_workspace:
                continue
            found = _stat_or_none(ancestor)
            if found is not None and os.path.samestat(found, self.workspace_stat):
                return True
            if ancestor != resolved:
                self.not_workspace.add(ancestor)
        return False


def _has_workspace_part(parts: Sequence[str]) -> bool:
    return any(part.casefold() == WORKSPACE_DIRNAME for part in parts)


def _stat_or_none(path: PurePath) -> os.stat_result | None:
    try:
        return os.stat(path)
    except (OSError, ValueError):
        return None


def declared_roots(workspace_dir: Path) -> tuple[Path, ...]:
    """The folders an admin declared under `evidence_roots` in the workspace's config.json;
    none when the workspace, its config or the key is absent."""
    config = workspace_dir / CONFIG_NAME
    if not config.is_file():
        return ()
    raw = read_document(config, MAX_CONFIG_BYTES, "workspace config")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise UsageError(
            f"{config}: not valid JSON ({exc}); fix the workspace's configuration"
        ) from None
    roots = data.get(ROOTS_KEY) if isinstance(data, dict) else None
    if roots is None:
        return ()
    expected = (
        f'{config}: {ROOTS_KEY} must be a list of absolute folder paths, e.g. ["/srv/evidence"]'
    )
    if not isinstance(roots, list) or not all(isinstance(r, str) for r in roots):
        raise UsageError(expected)
    relative = [r for r in roots if not os.path.isabs(r)]
    if relative:
        raise UsageError(f"{expected}; {relative[0]!r} is not absolute")
    return tuple(Path(r) for r in roots)


def read_document(path: Path, limit: int, what: str) -> bytes:
    """The bytes of a file of at most `limit` bytes; UsageError for anything else, without
    reading more than `limit` + 1 bytes of it."""
    # One descriptor for the checks and the read, so the file cannot be swapped in between;
    # O_NONBLOCK keeps a FIFO from hanging the open before fstat refuses it.
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such {what}; check the path") from None
    except PermissionError:
        raise UsageError(
            f"{path}: the {what} is not readable (permission denied); check its permissions"
        ) from None
    except OSError as exc:
        raise UsageError(f"{path}: the {what} cannot be read ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UsageError(f"{path}: is a folder; give the {what} file itself")
        if not stat.S_ISREG(info.st_mode):
            raise UsageError(f"{path}: not a regular file; give the {what} as a file")
        if info.st_size > limit:
            raise _too_large(path, f"{info.st_size:,} bytes", limit, what)
        data = _read_at_most(fd, limit + 1)
    except OSError as exc:
        raise UsageError(f"{path}: the {what} cannot be read ({exc.strerror})") from None
    finally:
        os.close(fd)
    if len(data) > limit:
        raise _too_large(path, f"more than {limit:,} bytes", limit, what)
    return data


def _read_at_most(fd: int, size: int) -> bytes:
    chunks = []
    while size > 0:
        chunk = os.read(fd, min(size, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _too_large(path: Path, size: str, limit: int, what: str) -> UsageError:
    return UsageError(
        f"{path}: the {what} is {size}, over the {limit:,}-byte limit; check that this is "
        "the right file"
    )
