"""Where a plan's files may come from, and how documents are read under a size limit.

Every file a plan names must resolve, symbolic links followed, inside the plan's folder or
a folder an admin declared; never inside a workspace. Otherwise a plan could have Clearance
store the workspace's private key, or any file of the machine, and ship it in an audit pack.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path

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
) -> Resolved:
    """Raise PlanError, one problem per file at the position naming it, unless every file
    the plan names stays inside the plan's folder or one of `roots`, and out of any
    workspace (`workspace_dir`, or any folder named .clearance).

    Returns where each file resolved to, with the stat taken on the way, so that nothing
    resolves or stats the same file again in the same command."""
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
    return checker.resolved


class Resolved:
    """Where the files a plan names resolved to (symbolic links followed), and the stat of
    each one that exists and is not a link, as one command found them."""

    def __init__(self) -> None:
        self.paths: dict[str, str] = {}
        self.stats: dict[str, os.stat_result] = {}


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root if root.endswith(os.sep) else root + os.sep)


def _parents(path: str) -> Iterator[str]:
    while (parent := os.path.dirname(path)) != path:
        yield parent
        path = parent


class _Containment:
    """The allowed folders and the workspace, resolved once for all of a plan's files."""

    def __init__(self, folder: Path, roots: Sequence[Path], workspace_dir: Path | None) -> None:
        self.folder = str(folder)
        self.real_folder = os.path.realpath(folder)
        self.allowed = [self.real_folder, *(os.path.realpath(r) for r in roots)]
        self.workspace = os.path.realpath(workspace_dir) if workspace_dir else None
        self.workspace_stat = _stat_or_none(self.workspace) if self.workspace else None
        #: folders known not to be the workspace, nor any folder above them (files share
        #: their folders, so each is looked at once)
        self.not_workspace: set[str] = set()
        #: folders already resolved: files share their folders, so each is resolved once
        self.folders: dict[str, str] = {}
        self.resolved = Resolved()
        self.fix = (
            f"move the file into the plan's folder ({folder}) and name it relative to the "
            f"plan, or ask an admin to declare its folder under {ROOTS_KEY} in the "
            f"workspace's {CONFIG_NAME}"
        )

    def realpath(self, joined: str) -> str:
        """os.path.realpath, resolving each folder once: only a file's own name is looked
        at per file (one lstat, kept as its stat when it is not a link)."""
        head, tail = os.path.split(joined)
        if tail in ("", ".", "..") or not head:
            return os.path.realpath(joined)
        real_head = self.folders.get(head)
        if real_head is None:
            real_head = self.folders[head] = os.path.realpath(head)
        candidate = os.path.join(real_head, tail)
        try:
            found = os.lstat(candidate)
        except (OSError, ValueError):
            return candidate  # missing: realpath leaves the name as it is
        if stat.S_ISLNK(found.st_mode):
            return os.path.realpath(candidate)
        self.resolved.stats[candidate] = found
        return candidate

    def problem(self, written: str) -> str | None:
        """What is wrong with the path as written, or None when it may be read."""
        from clearance.core.sources import is_source

        if is_source(written):
            return None  # read from the registry by the client, never from disk
        if "\0" in written:
            return "the path contains a NUL character; name a file relative to the plan"
        if _has_workspace_part(_SEPARATORS.split(written)):
            return (
                f"{written} is inside a {WORKSPACE_DIRNAME} folder, which holds a workspace's "
                "keys, database and blobs; a plan cannot name workspace files, name the "
                "evidence file itself, kept in the plan's folder"
            )
        joined = os.path.join(self.folder, written)
        resolved = self.realpath(joined)
        root = next((r for r in self.allowed if _within(resolved, r)), None)
        if root is None:
            return self._outside(written, os.path.normpath(joined), resolved)
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
        if _has_workspace_part(resolved[len(root) :].split(os.sep)):
            return (
                f"{written} leads to {resolved}, inside a {WORKSPACE_DIRNAME} folder (a "
                "workspace's keys, database and blobs); a plan cannot name workspace files, "
                "name the evidence file itself, kept in the plan's folder"
            )
        self.resolved.paths[written] = resolved
        return None

    def _outside(self, written: str, lexical: str, resolved: str) -> str:
        if os.path.isabs(written):
            what = f"{written} is an absolute path outside the plan's folder"
        elif any(_within(lexical, r) for r in self.allowed):
            what = (
                f"{written} is, or goes through, a symbolic link leading to {resolved}, "
                "outside the plan's folder"
            )
        else:
            what = f"{written} leads out of the plan's folder (to {resolved})"
        return f"{what}; {self.fix}"

    def _in_workspace(self, resolved: str) -> bool:
        """Lexically under the workspace, or an existing ancestor that is the workspace's
        folder under another spelling (a case-insensitive file system, a bind mount)."""
        if self.workspace is None:
            return False
        if _within(resolved, self.workspace):
            return True
        if self.workspace_stat is None:
            return False
        seen = []
        for ancestor in itertools.chain((resolved,), _parents(resolved)):
            if ancestor in self.not_workspace:
                break  # and so is every folder above it
            found = self.resolved.stats.get(ancestor) or _stat_or_none(ancestor)
            if found is not None and os.path.samestat(found, self.workspace_stat):
                return True
            if ancestor != resolved:
                seen.append(ancestor)
        self.not_workspace.update(seen)
        return False


def _has_workspace_part(parts: Sequence[str]) -> bool:
    return any(part.casefold() == WORKSPACE_DIRNAME for part in parts)


def _stat_or_none(path: str) -> os.stat_result | None:
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
