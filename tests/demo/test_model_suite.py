"""The pytest suite the demo writes passes on the demo's model and reports as JUnit XML."""

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from clearance.demo.files import write_model_tests


def _run_suite(root: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "tests_model", "--junitxml=reports/junit.xml",
         "-q", "-p", "no:cacheprovider"],
        cwd=root, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def _copy_trained(trained, tmp_path: Path) -> Path:
    source, _ = trained
    root = tmp_path / "demo"
    shutil.copytree(source, root)
    write_model_tests(root)
    return root


def test_suite_passes_and_writes_junit_with_at_least_12_tests(trained, tmp_path: Path):
    root = _copy_trained(trained, tmp_path)
    done = _run_suite(root)
    assert done.returncode == 0, done.stdout + done.stderr
    suite = ET.parse(root / "reports" / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    assert int(suite.get("tests", "0")) >= 12
    assert suite.get("failures") == "0"
    assert suite.get("errors") == "0"
    assert suite.get("skipped") == "0"


def test_suite_fails_on_a_model_that_is_not_good_enough(trained, tmp_path: Path):
    """The suite is a real check: a model trained on shuffled labels fails it."""
    import pickle

    import numpy as np
    from sklearn.linear_model import LogisticRegression

    from clearance.demo.model import MODEL_FILE, load_holdout

    root = _copy_trained(trained, tmp_path)
    features, labels = load_holdout(root)
    shuffled = np.random.default_rng(0).permutation(labels)
    bad = LogisticRegression().fit(features, shuffled)
    (root / MODEL_FILE).write_bytes(pickle.dumps(bad))
    done = _run_suite(root)
    assert done.returncode == 1
    assert "test_auc_above_floor" in done.stdout
