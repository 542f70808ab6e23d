"""Describe this machine for an environment manifest: runtime, OS, CPU, accelerator, packages.

Only what a release criterion compares is captured: never the hostname, user, paths,
environment variables or device serial numbers. Nothing is run and torch is not imported.
"""

from __future__ import annotations

import os
import platform
import re
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

_PROC_NVIDIA = Path("/proc/driver/nvidia")
_DEV = Path("/dev")
_KFD_NODES = Path("/sys/class/kfd/kfd/topology/nodes")


def capture_environment(name: str) -> dict[str, Any]:
    """A manifest of this machine under `name`; hosting is left for the user to state."""
    return {
        "name": name,
        "captured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "hosting": "unknown",
        "runtime": {
            "python": platform.python_version(),
            "implementation": platform.python_implementation(),
        },
        "os": {
            "system": platform.system(),
            "release": platform.release(),
            "distribution": _distribution(),
        },
        "cpu": {"arch": platform.machine(), "count": os.cpu_count(), "model": _cpu_model()},
        "accelerator": _accelerator(),
        "packages": installed_packages(),
    }


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
