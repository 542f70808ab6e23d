"""Describe this machine for an environment manifest: runtime, OS, CPU, accelerator, packages.

The runtime and packages are those of the application, not of Clearance: another
interpreter or virtual environment (`python=`, asked in a subprocess) or a lock file
(`requirements=`); by default, the interpreter running Clearance.
Only what a release criterion compares is captured: never the hostname, user, paths,
environment variables or device serial numbers. Torch is not imported.
"""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from clearance.errors import UsageError

#: run by the other interpreter: its version and installed distributions, first on sys.path
#: winning, as JSON on stdout. importlib.metadata needs no pip (Python 3.8+).
_PROBE = """
import json, platform, sys
from importlib import metadata
packages = {}
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if name:
        packages.setdefault(name, dist.version)
json.dump({"python": platform.python_version(),
           "implementation": platform.python_implementation(),
           "packages": packages}, sys.stdout)
"""
_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?\s*===?\s*(?P<version>[^\s;#\\]+)"
)

_PROC_NVIDIA = Path("/proc/driver/nvidia")
_DEV = Path("/dev")
_KFD_NODES = Path("/sys/class/kfd/kfd/topology/nodes")


def capture_environment(
    name: str, *, python: Path | None = None, requirements: Path | None = None
) -> dict[str, Any]:
    """A manifest of this machine under `name`; hosting is left for the user to state.

    With `python`, the runtime and packages are that interpreter's; with `requirements`, the
    packages are the lock file's pins (and the runtime is recorded only if `python` is given
    too, since a lock file does not say which Python runs it). UsageError otherwise.
    """
    runtime: dict[str, Any] | None = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
    }
    packages: dict[str, str] | None = None
    if python is not None:
        probed = interpreter_packages(python)
        runtime = {"python": probed["python"], "implementation": probed["implementation"]}
        packages = probed["packages"]
    elif requirements is not None:
        runtime = None
    if requirements is not None:
        packages = read_requirements(requirements)
    manifest: dict[str, Any] = {
        "name": name,
        "captured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hosting": "unknown",
    }
    if runtime is not None:
        manifest["runtime"] = runtime
    manifest |= {
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "distribution": _distribution(),
        },
        "cpu": {"arch": platform.machine(), "count": os.cpu_count(), "model": _cpu_model()},
        "accelerator": _accelerator(),
        "packages": installed_packages() if packages is None else packages,
    }
    return manifest


def interpreter_packages(python: Path) -> dict[str, Any]:
    """Ask the interpreter `python` (a virtual environment's bin/python) for its version and
    installed distributions; UsageError if it is not a Python that answers."""
    shown = f"--python {python}"
    if python.is_dir():
        hint = python / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
        raise UsageError(f"{shown} is a folder; give its interpreter, e.g. {hint}")
    # A bare name (python3.11) is looked up on PATH, as a shell would; anything else is a path.
    found = shutil.which(str(python)) if len(python.parts) == 1 and not python.exists() else None
    program = found or str(python.absolute())
    try:
        # -I: only the environment's own site-packages, whatever PYTHONPATH says here.
        done = subprocess.run(
            [program, "-I", "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    except FileNotFoundError:
        raise UsageError(
            f"{shown}: no such file; give the Python of the application's environment, "
            "e.g. .venv/bin/python"
        ) from None
    except PermissionError:
        raise UsageError(f"{shown}: not executable; give a Python interpreter") from None
    except OSError as exc:
        raise UsageError(f"{shown} is not a Python interpreter ({exc.strerror or exc})") from None
    except subprocess.TimeoutExpired:
        raise UsageError(f"{shown} did not answer within 120 seconds") from None
    try:
        answer = json.loads(done.stdout) if done.returncode == 0 else None
    except ValueError:
        answer = None
    if not isinstance(answer, dict) or not isinstance(answer.get("packages"), dict):
        raise UsageError(
            f"{shown} is not a Python interpreter: it did not answer Clearance's question "
            f"about its version and packages (exit {done.returncode}); give a Python 3.8 or "
            "later, e.g. .venv/bin/python"
        )
    packages = {normalise_name(str(n)): str(v) for n, v in answer["packages"].items()}
    return {
        "python": str(answer.get("python")),
        "implementation": str(answer.get("implementation")),
        "packages": dict(sorted(packages.items())),
    }


def read_requirements(path: Path) -> dict[str, str]:
    """The `name==version` pins of a requirements or lock file (pip-compile, uv export,
    pip freeze), by normalised name. Comments, blank lines, options (`--hash`, `-i`, `-r`…)
    and environment markers are ignored; a line that pins no exact version is an error, all
    of them reported at once with their line numbers."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--requirements {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--requirements {path}: cannot read it ({exc})") from None
    pins: dict[str, str] = {}
    problems: list[str] = []
    for number, line in _logical_lines(text):
        content = line.split(" #", 1)[0].strip()
        if not content or content.startswith(("#", "-")):
            continue
        found = _PIN.match(content)
        if found is None or "*" in found["version"]:
            problems.append(
                f"{path}:{number}: {content[:80]!r} pins no exact version; write name==version "
                "(a lock file from pip-compile, uv pip compile or pip freeze has one per line)"
            )
            continue
        pins[normalise_name(found["name"])] = found["version"]
    if problems:
        raise UsageError(
            f"--requirements {path}: {len(problems)} line{'s' if len(problems) != 1 else ''} "
            "without an exact pin:\n  " + "\n  ".join(problems)
        )
    return dict(sorted(pins.items()))


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines joined where one ends with a backslash (hashes go on continuation lines), each
    with the number of the line it starts on."""
    joined: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        start, sofar = pending or (number, "")
        if raw.rstrip().endswith("\\"):
            pending = (start, sofar + raw.rstrip()[:-1] + " ")
            continue
        pending = None
        joined.append((start, sofar + raw))
    if pending is not None:
        joined.append(pending)
    return joined


def normalise_name(name: str) -> str:
    """A distribution name as PEP 503 compares it: lower case, runs of -_. as one dash."""
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_packages() -> dict[str, str]:
    """Every installed distribution's version, by normalised name; the first on sys.path wins."""
    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        # dist.name parses the whole METADATA file; the .dist-info directory name is enough
        # and is what pip writes. Fall back to the metadata when it is not one.
        name, version = _from_dist_info(dist) or (dist.metadata["Name"], dist.version)
        if name:
            packages.setdefault(normalise_name(name), version)
    return dict(sorted(packages.items()))


def _from_dist_info(dist: metadata.Distribution) -> tuple[str, str] | None:
    path = getattr(dist, "_path", None)
    if not isinstance(path, Path) or path.suffix != ".dist-info":
        return None
    name, _, version = path.stem.partition("-")
    return (name, version) if name and version else None


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _distribution() -> str | None:
    try:
        release = platform.freedesktop_os_release()
    except OSError:
        return None
    parts = [release.get("ID", ""), release.get("VERSION_ID", "")]
    return " ".join(part for part in parts if part) or None


def _cpu_model() -> str | None:
    text = _read(Path("/proc/cpuinfo"))
    match = re.search(r"^model name\s*:\s*(.+)$", text or "", re.MULTILINE)
    return match.group(1).strip() if match else None


def _accelerator() -> dict[str, Any]:
    gpus = _PROC_NVIDIA / "gpus"
    if gpus.is_dir() or (_DEV / "nvidia0").exists():
        return _nvidia(gpus)
    if (_DEV / "kfd").exists() and _KFD_NODES.is_dir():
        # CPU nodes report simd_count 0; every GPU node has SIMD units.
        count = sum(
            1
            for node in _KFD_NODES.iterdir()
            if re.search(r"^simd_count\s+[1-9]", _read(node / "properties") or "", re.MULTILINE)
        )
        return {"kind": "rocm", "count": count}
    if platform.system() == "Darwin" and platform.machine() == "arm64":
        return {"kind": "mps", "count": 1}
    return {"kind": "none", "count": 0}


def _nvidia(gpus: Path) -> dict[str, Any]:
    models: list[str] = []
    if gpus.is_dir():
        for gpu in sorted(gpus.iterdir()):
            found = re.search(r"^Model:\s*(.+)$", _read(gpu / "information") or "", re.MULTILINE)
            models.append(found.group(1).strip() if found else "unknown")
    else:
        models = ["unknown" for dev in _DEV.iterdir() if re.fullmatch(r"nvidia\d+", dev.name)]
    version = re.search(r"Kernel Module\s+(\S+)", _read(_PROC_NVIDIA / "version") or "")
    return {
        "kind": "cuda",
        "count": len(models),
        "models": sorted(set(models)),
        "driver": version.group(1) if version else None,
    }
