"""Real scanners run on a small fixture project, once per test session: Bandit (its own
SARIF), Semgrep (a local rule, metrics off, no version check) and Checkov (a Dockerfile and a
Kubernetes manifest, nothing downloaded). Each runs without network where the machine lets a
process drop it (`unshare -rn`), and their reports are cached for the session, shared by the
xdist workers through a lock file.

Bandit is a test dependency of the project. Semgrep and Checkov pin versions of the
project's own dependencies (click, fastapi's, boto3, packaging), so `make` installs them in
their own environment, `.venv-scanners` (tests/scanners/requirements.txt); a test needing a
scanner that is not installed skips saying so, or fails with CLEARANCE_REQUIRE_SCANNERS=1.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIRE = os.environ.get("CLEARANCE_REQUIRE_SCANNERS") == "1"
TIMEOUT = 180

SCORE_PY = '''\
"""The scoring service: loads the model and scores rows."""

import pickle
import subprocess


def load_model(data):
    return pickle.loads(data)


def warm_up(command):
    return subprocess.call(command, shell=True)


def score(model, rows):
    return [float(p) for p in model.predict_proba(rows)[:, 1]]
'''

DOCKERFILE = """\
FROM python:3.11
COPY service /app/service
RUN pip install scikit-learn
CMD ["python", "/app/service/score.py"]
"""

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: scorer
spec:
  replicas: 1
  selector:
    matchLabels: {app: scorer}
  template:
    metadata:
      labels: {app: scorer}
    spec:
      containers:
        - name: scorer
          image: scorer:latest
          securityContext:
            privileged: true
"""

SEMGREP_RULES = """\
rules:
  - id: pickle-loads
    pattern: pickle.loads(...)
    message: Unpickling data from outside can run arbitrary code
    languages: [python]
    severity: ERROR
  - id: shell-true
    pattern: subprocess.call(..., shell=True)
    message: A shell runs this command
    languages: [python]
    severity: WARNING
"""


def write_project(root: Path) -> Path:
    """The fixture project: a scoring service, its image and its deployment."""
    files = {
        "service/score.py": SCORE_PY,
        "deploy/Dockerfile": DOCKERFILE,
        "deploy/deployment.yaml": DEPLOYMENT,
        "rules/semgrep.yaml": SEMGREP_RULES,
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def scanner(name: str) -> Path | None:
    """The scanner's executable: CLEARANCE_SCANNERS_BIN, .venv-scanners, this Python's
    environment, then PATH."""
    folders = [
        os.environ.get("CLEARANCE_SCANNERS_BIN"),
        str(ROOT / ".venv-scanners" / "bin"),
        str(Path(sys.executable).parent),
    ]
    for folder in folders:
        if folder and (Path(folder) / name).is_file():
            return Path(folder) / name
    found = shutil.which(name)
    return Path(found) if found else None


def _offline() -> list[str]:
    """`unshare -rn` when this machine lets a process give up its network, else nothing."""
    if shutil.which("unshare") is None:
        return []
    try:
        done = subprocess.run(["unshare", "-rn", "true"], capture_output=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return ["unshare", "-rn"] if done.returncode == 0 else []


def _environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
    env.update(
        HOME=str(home),
        SEMGREP_SEND_METRICS="off",
        SEMGREP_ENABLE_VERSION_CHECK="0",
        BC_SKIP_MAPPING="TRUE",
        CHECKOV_RUN_SCA_PACKAGE_SCAN_V2="false",
        NO_COLOR="1",
    )
    return env


def _commands(project: Path, out: Path) -> dict[str, tuple[str, list[str], Path]]:
    """Scanner -> (executable name, arguments, the report it writes)."""
    return {
        "bandit": (
            "bandit",
            ["-r", "service", "-f", "sarif", "-o", str(out / "bandit.sarif"), "-q"],
            out / "bandit.sarif",
        ),
        "semgrep": (
            "semgrep",
            [
                "scan",
                "--config",
                "rules/semgrep.yaml",
                "--metrics=off",
                "--disable-version-check",
                "--sarif",
                "-o",
                str(out / "semgrep.sarif"),
                "--quiet",
                "service",
            ],
            out / "semgrep.sarif",
        ),
        "checkov": (
            "checkov",
            [
                "-d",
                "deploy",
                "--framework",
                "dockerfile",
                "kubernetes",
                "--skip-download",
                "-o",
                "sarif",
                "--output-file-path",
                str(out / "checkov"),
                "--quiet",
                "--compact",
            ],
            out / "checkov" / "results_sarif.sarif",
        ),
    }


def _run(name: str, project: Path, out: Path) -> Path | str:
    """Run one scanner; its report's path, or why it could not run."""
    program, args, report = _commands(project, out)[name]
    executable = scanner(program)
    if executable is None:
        return (
            f"{program} is not installed (make installs it in .venv-scanners from "
            "tests/scanners/requirements.txt)"
        )
    home = out / "home"
    home.mkdir(exist_ok=True)
    try:
        done = subprocess.run(
            [*_offline(), str(executable), *args],
            cwd=project,
            env=_environment(home),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"{program} did not finish within {TIMEOUT} s"
    if not report.is_file():
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        return f"{program} exited {done.returncode} without a report: {' | '.join(tail)}"
    return report


def reports(base: Path) -> dict[str, Path | str]:
    """Every scanner's report on the fixture project (or why it has none), made once under
    `base` whatever the number of processes asking."""
    base.mkdir(parents=True, exist_ok=True)
    state = base / "reports.json"
    with (base / "lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not state.exists():
            project = write_project(base / "project")
            out = base / "out"
            out.mkdir(exist_ok=True)
            found = {name: _run(name, project, out) for name in ("bandit", "semgrep", "checkov")}
            state.write_text(json.dumps({k: str(v) for k, v in found.items()}))
            (base / "made").write_text(
                json.dumps(sorted(k for k, v in found.items() if isinstance(v, Path)))
            )
    made = set(json.loads((base / "made").read_text()))
    listed = json.loads(state.read_text())
    return {k: (Path(v) if k in made else v) for k, v in listed.items()}


def session_base(factory: pytest.TempPathFactory) -> Path:
    """A folder every xdist worker of this run shares (the parent of the workers' own)."""
    base = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    return base / "scanner-reports"


@pytest.fixture(scope="session")
def scanner_reports(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path | str]:
    return reports(session_base(tmp_path_factory))


def report(reports_: dict[str, Path | str], name: str) -> Path:
    """The report of scanner `name`, or skip (fail with CLEARANCE_REQUIRE_SCANNERS=1)."""
    found = reports_[name]
    if isinstance(found, Path):
        return found
    if REQUIRE:
        pytest.fail(f"CLEARANCE_REQUIRE_SCANNERS=1 but {found}", pytrace=False)
    pytest.skip(f"scanner not available: {found}")
