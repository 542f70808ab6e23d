"""Ingestion streams: however large the file, the command's memory stays bounded."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

CLEARANCE = str(Path(sys.executable).with_name("clearance"))
PLAN = """\
apiVersion: clearance/v1
kind: DeploymentPlan
system: {id: mem, name: Memory, owner: owner@example.com}
release: {version: '1.0', source: dev, target: prod}
components: [{name: m, kind: model, version: '1', digest: 'sha256:%s'}]
environments: {dev: {}, prod: {}}
criteria: [{id: doc, kind: evidence}]
""" % ("0" * 64)


# The command runs under a small Python parent: a child forked straight from this (large)
# test process would report the test process's own pages as its peak, since the
# high-water mark survives exec.
MEASURE = """\
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
sys.exit(code)
"""


def run(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, float, str]:
    """(exit code, peak RSS in MiB, stderr) of the real command."""
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, CLEARANCE, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    return done.returncode, int(done.stdout.split()[-1]) / 1024, done.stderr


def test_ingesting_200_mib_stays_under_100_mib_of_memory(tmp_path: Path) -> None:
    """`clearance evidence add` of a 200 MiB file peaks under 100 MiB RSS, and stores it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARANCE_")}
    env["CLEARANCE_HOME"] = str(tmp_path / "home")
    (tmp_path / "plan.yaml").write_text(PLAN)
    big = tmp_path / "big.bin"
    block = os.urandom(1 << 20)
    with big.open("wb") as fh:
        for _ in range(200):
            fh.write(block)
    for args in (["init"], ["env", "declare", "prod"]):
        code, _, err = run(args, tmp_path, env)
        assert code == 0, err
    args = ["evidence", "add", str(big), "--plan", "plan.yaml", "--criterion", "doc"]
    code, peak_mib, err = run(args, tmp_path, env)
    assert code == 0, err
    assert peak_mib < 100, f"peak RSS {peak_mib:.1f} MiB"
    stored = [p for p in (tmp_path / ".clearance/blobs/sha256").rglob("*") if p.is_file()]
    assert [p.stat().st_size for p in stored] == [200 << 20]
