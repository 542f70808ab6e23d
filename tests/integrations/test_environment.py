"""The environment manifest describes this machine, quickly, and gives away nothing private."""

from __future__ import annotations

import getpass
import json
import os
import platform
import socket
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from clearance.integrations import environment
from clearance.integrations.environment import capture_environment, normalise_name


def strings(value: Any) -> set[str]:
    """Every key and string value in a JSON-like structure."""
    if isinstance(value, dict):
        return set().union(*(strings(k) | strings(v) for k, v in value.items()), set())
    if isinstance(value, list):
        return set().union(*(strings(v) for v in value), set())
    return {value} if isinstance(value, str) else set()


def test_manifest_has_the_documented_shape() -> None:
    manifest = capture_environment("staging")
    assert set(manifest) == {
        "name", "captured_at", "hosting", "runtime", "os", "cpu", "accelerator", "packages",
    }  # fmt: skip
    assert manifest["name"] == "staging"
    assert manifest["hosting"] == "unknown"
    captured = datetime.fromisoformat(manifest["captured_at"])
    assert captured.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - captured) < timedelta(minutes=1)
    assert manifest["runtime"] == {
        "python": ".".join(map(str, sys.version_info[:3])),
        "implementation": platform.python_implementation(),
    }
    assert set(manifest["os"]) == {"system", "release", "distribution"}
    assert set(manifest["cpu"]) == {"arch", "count", "model"}
    assert manifest["cpu"]["count"] == os.cpu_count()
    assert manifest["accelerator"]["kind"] in {"none", "cuda", "rocm", "mps"}
    assert json.loads(json.dumps(manifest)) == manifest


def test_packages_are_named_per_pep_503_and_include_pydantic() -> None:
    from importlib.metadata import version

    packages = capture_environment("dev")["packages"]
    assert packages["pydantic"] == version("pydantic")
    assert packages["types-pyyaml"] == version("types-PyYAML")
    assert all(name == normalise_name(name) for name in packages)
    assert list(packages) == sorted(packages)


@pytest.mark.parametrize(
    ("name", "normalised"),
    [("PyYAML", "pyyaml"), ("zope.interface", "zope-interface"), ("a_-_b", "a-b"), ("x", "x")],
)
def test_normalise_name(name: str, normalised: str) -> None:
    assert normalise_name(name) == normalised


def test_nothing_private_is_captured(monkeypatch: pytest.MonkeyPatch) -> None:
    """No hostname, user name, home, working directory, interpreter path or variable value."""
    secret = "s3cr3t-token-value-0042"
    monkeypatch.setenv("CLEARANCE_TEST_SECRET", secret)
    manifest = capture_environment("prod")
    dump = json.dumps(manifest)
    private = {
        socket.gethostname(),
        getpass.getuser(),
        str(Path.home()),
        os.getcwd(),
        sys.prefix,
        sys.executable,
        secret,
    }
    values = strings(manifest)
    for item in private:
        assert item not in values
        # Very short names ("vm", "ci") can occur inside unrelated words; longer ones cannot.
        if len(item) >= 4:
            assert item not in dump
    assert not any(value.startswith(("/", "~")) for value in values), "a path was captured"


def fake_nvidia(root: Path, models: list[str]) -> None:
    for i, model in enumerate(models):
        gpu = root / "proc" / "gpus" / f"0000:0{i}:00.0"
        gpu.mkdir(parents=True)
        (gpu / "information").write_text(
            f"Model: \t\t {model}\nIRQ:   \t\t 42\nGPU UUID: \t\t GPU-1234-abcd\n"
        )
    (root / "proc" / "version").write_text(
        "NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.104.05  Sat Aug 19 01:15:15 UTC 2023"
    )


@pytest.fixture
def fake_system(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point the accelerator probes at an empty fake /proc, /dev and /sys."""
    (tmp_path / "dev").mkdir()
    monkeypatch.setattr(environment, "_PROC_NVIDIA", tmp_path / "proc")
    monkeypatch.setattr(environment, "_DEV", tmp_path / "dev")
    monkeypatch.setattr(environment, "_KFD_NODES", tmp_path / "kfd" / "nodes")
    monkeypatch.setattr(environment.platform, "system", lambda: "Linux")
    return tmp_path


def test_no_accelerator(fake_system: Path) -> None:
    assert capture_environment("dev")["accelerator"] == {"kind": "none", "count": 0}


def test_nvidia_gpus_are_read_from_proc_without_serials(fake_system: Path) -> None:
    fake_nvidia(fake_system, ["NVIDIA A100-SXM4-40GB", "NVIDIA A100-SXM4-40GB"])
    accelerator = capture_environment("dev")["accelerator"]
    assert accelerator == {
        "kind": "cuda",
        "count": 2,
        "models": ["NVIDIA A100-SXM4-40GB"],
        "driver": "535.104.05",
    }
    assert "GPU-1234" not in json.dumps(accelerator)


def test_nvidia_device_nodes_without_proc(fake_system: Path) -> None:
    for name in ("nvidia0", "nvidia1", "nvidiactl", "nvidia-uvm"):
        (fake_system / "dev" / name).touch()
    assert capture_environment("dev")["accelerator"] == {
        "kind": "cuda", "count": 2, "models": ["unknown"], "driver": None,
    }  # fmt: skip


def test_rocm_counts_gpu_nodes_only(fake_system: Path) -> None:
    (fake_system / "dev" / "kfd").touch()
    for node, simd in (("0", 0), ("1", 304), ("2", 304)):
        path = fake_system / "kfd" / "nodes" / node
        path.mkdir(parents=True)
        (path / "properties").write_text(f"cpu_cores_count 0\nsimd_count {simd}\n")
    assert capture_environment("dev")["accelerator"] == {"kind": "rocm", "count": 2}


def test_apple_silicon_is_mps(fake_system: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(environment.platform, "system", lambda: "Darwin")
    monkeypatch.setattr(environment.platform, "machine", lambda: "arm64")
    assert capture_environment("dev")["accelerator"] == {"kind": "mps", "count": 1}
