"""Each template's own walkthrough (docs/first-release.md), run as a newcomer runs it: every
`clearance` line of its shell blocks, exactly as written, in a fresh folder. The newcomer gets
NO-GO (exit 1) with guidance where the walkthrough says so, never exit 2, then GO, a release,
a status and a history. Only what the team's own pipeline would produce is written by the
test (metrics, test report, scanner reports, the model file, the people's reports)."""

from __future__ import annotations

import json
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from clearance.templates import TEMPLATES, template_files
from tests.builders import junit
from tests.cli.harness import Completed, invoke

SARIF = {"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "{tool}"}}, "results": []}]}


def _sarif(tool: str) -> str:
    return json.dumps(SARIF).replace("{tool}", tool)


def _write(root: Path, files: dict[str, str | bytes]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)


def _reports(root: Path) -> None:
    _write(root, {"docs/uat-report.md": "# User testing\n\nAll scenarios passed.\n"})


def _llm(root: Path) -> None:
    metrics = {
        "quality": {"groundedness": 0.93, "answer_relevance": 0.9},
        "safety": {"jailbreak_success_rate": 0.012, "pii_leak_rate": 0.0},
        "latency": {"p95_seconds": 3.1},
    }
    _write(root, {"eval/metrics.json": json.dumps(metrics)})
    _write(root, {"reports/junit.xml": junit(60)})
    audit = {"dependencies": [{"name": "openai", "version": "1.51.0", "vulns": []}], "fixes": []}
    _write(root, {"reports/pip-audit.json": json.dumps(audit)})
    _write(root, {"reports/semgrep.sarif": _sarif("Semgrep OSS")})
    _write(root, {"docs/red-team-report.md": "# Red team\n\nNo open finding.\n"})
    _reports(root)


def _tabular(root: Path) -> None:
    _write(root, {"models/model.pkl": b"a trained model"})
    metrics = {"holdout": {"auc": 0.86, "f1": 0.74}, "fairness": {"accuracy_gap": 0.03}}
    _write(root, {"eval/metrics.json": json.dumps(metrics)})
    _write(root, {"reports/junit.xml": junit(12)})
    _write(root, {"reports/bandit.sarif": _sarif("Bandit")})
    _reports(root)


def _vision(root: Path) -> None:
    _write(root, {"models/detector.onnx": b"an exported model"})
    metrics = {
        "overall": {"recall": 0.97, "precision": 0.85},
        "slices": {"worst_recall": 0.92},
        "latency": {"p95_ms": 60},
    }
    _write(root, {"eval/metrics.json": json.dumps(metrics)})
    _write(root, {"reports/junit.xml": junit(25)})
    _write(root, {"reports/bandit.sarif": _sarif("Bandit")})
    _reports(root)


#: what each template's pipeline (and its people) produce between `init` and the next step
PIPELINE: dict[str, Callable[[Path], None]] = {
    "llm-app": _llm,
    "tabular-classifier": _tabular,
    "vision-model": _vision,
}


def steps(name: str) -> list[tuple[list[str], int]]:
    """The `clearance` lines of the walkthrough's shell blocks, with the exit each expects:
    1 where its comment says NO-GO, else 0."""
    doc = template_files(name)["docs/first-release.md"].decode()
    found = []
    for block in re.findall(r"```sh\n(.*?)```", doc, re.DOTALL):
        for line in block.splitlines():
            if line.startswith("clearance "):
                found.append((shlex.split(line, comments=True), 1 if "NO-GO" in line else 0))
    return found


def _app_venv(root: Path) -> None:
    """The application's virtual environment that the walkthrough names (.venv)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / ".venv")], check=True)


def _production_runs_this_python(root: Path) -> None:
    """The newcomer describes production: here, the Python the test's venv has."""
    path = root / "env/production.yaml"
    text = path.read_text()
    path.write_text(re.sub(r'python: "[^"]+"', f'python: "{platform.python_version()}"', text))


def test_every_template_has_a_walkthrough_and_a_pipeline() -> None:
    assert set(PIPELINE) == set(TEMPLATES)
    for name in TEMPLATES:
        assert steps(name)[0] == (["clearance", "init", "--template", name], 0)


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_the_walkthrough_reaches_no_go_then_go_and_a_release(name: str, tmp_path: Path) -> None:
    """Run as written: exit 0 everywhere but the first check, which is NO-GO (exit 1) and says
    what is missing; the second check is GO; the release, status and history name it."""
    root = tmp_path / "project"
    root.mkdir()
    env = {"CLEARANCE_HOME": str(tmp_path / "home"), "CLEARANCE_USER": "ops@example.com"}
    ran: list[tuple[list[str], Completed]] = []
    for i, (args, expected) in enumerate(steps(name)):
        if i == 1:
            PIPELINE[name](root)
            _app_venv(root)
            _production_runs_this_python(root)
        proc = invoke(root, *args[1:], env=env)
        ran.append((args, proc))
        assert proc.returncode == expected, (args, proc.stdout, proc.stderr)
        assert "Traceback" not in proc.stdout + proc.stderr
    checks = [proc for args, proc in ran if args[1] == "check"]
    no_go, go = checks
    assert "NO-GO" in no_go.stdout and "next:" in no_go.stdout
    assert "Decision: GO" in go.stdout
    system = yaml.safe_load((root / "plan.yaml").read_text())["system"]["id"]
    status = next(proc for args, proc in ran if args[1] == "status")
    assert system in " ".join(status.stdout.split())
    history = next(proc for args, proc in ran if args[1] == "history")
    assert "released" in history.stdout and "production" in history.stdout


@pytest.mark.parametrize("name", sorted(TEMPLATES))
def test_check_right_after_init_is_no_go_with_guidance(name: str, tmp_path: Path) -> None:
    """With only what the pipeline produces, a template checks NO-GO (exit 1), never exit 2:
    its shipped dates are recent, its files parse, its environment can be compared."""
    env = {"CLEARANCE_HOME": str(tmp_path / "home")}
    assert invoke(tmp_path, "init", "--template", name, env=env).returncode == 0
    PIPELINE[name](tmp_path)
    proc = invoke(tmp_path, "check", "plan.yaml", env=env)
    assert proc.returncode == 1, proc.stderr
    assert "rollback-ready" in proc.stdout
    rows = json.loads(invoke(tmp_path, "check", "plan.yaml", "--format", "json", env=env).stdout)
    statuses = {r["id"]: r["status"] for r in rows["criteria"]}
    assert statuses["rollback-ready"] == "passed"
    assert statuses["risks"] == "passed" and statuses["change"] == "passed"
