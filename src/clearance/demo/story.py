"""`clearance demo`: the first release of a real model, told with the real commands.

A classifier is trained, evaluated and tested, and its scoring service scanned with Bandit;
the environments are captured; a plan is written from the tabular-classifier template; the
gate says NO-GO; people register keys; a model-risk reviewer rejects; the plan is fixed (a
new candidate), user testing attested, the scan's one finding accepted by security until a
date, the patients' representative acknowledges what the release means for patients, and
two people sign off; the gate says GO and signs an attestation that a deploy pipeline can
verify; the release is recorded and the audit pack verified.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clearance.demo import environments, files
from clearance.demo.commands import DemoFailed, Shell, demo_environment
from clearance.demo.model import train_and_evaluate
from clearance.demo.plan import (
    BANDIT_REPORT,
    OWNER,
    PATIENTS,
    PATIENTS_ROLE,
    TemplateChanged,
    demo_plan_text,
)

DEFAULT_DIRECTORY = Path("clearance-demo")
PRODUCT_OWNER = "carol@example.com"
MODEL_RISK = "dana@example.com"
ENG_MANAGER = "erik@example.com"
SECURITY = "sam@example.com"
PATIENTS_REPRESENTATIVE = "paula@example.com"
POLICY = """\
# The organisation's policy (`clearance policy set policy.yaml`): who may accept single
# findings of a security scan, and for how long at most.
apiVersion: clearance/v1
kind: Policy
max_waiver: 30d
targets:
  production:
    accept_findings:
      - {roles: [security], criteria: ["kind:findings"]}
"""
BANDIT = ["bandit", "-r", "service", "-f", "sarif", "-o", BANDIT_REPORT, "--exit-zero", "-q"]
PACK = "audit-pack.zip"
ATTESTATION = "release.intoto.json"
TAMPERED = "release-tampered.intoto.json"
WORKSPACE_KEY = "keys/clearance-workspace.pub"
IDENTITIES = "identities"  # where `init` keeps the first administrator's key pair
FAIRNESS_ANCHOR = "  # Interested parties: each one above"
AUC_GAP = """  # Added after the model-risk review: the AUC gap between groups is bounded too.
  - id: fairness-auc
    kind: metric
    title: AUC gap between groups
    evidence: eval/metrics.json
    metric: fairness.auc_gap
    op: "<="
    threshold: 0.10
    controls: [B.6.2.5-performance]

"""
STAGING_MANIFEST = "env/staging.json"
PRODUCTION_MANIFEST = "env/production.yaml"
MODEL_TESTS = [
    "pytest",
    "tests_model",
    "--junitxml=reports/junit.xml",
    "-q",
    "-p",
    "no:cacheprovider",
]


def run_demo(directory: Path, out: Callable[[str], None], clearance: Sequence[str]) -> int:
    """Run the demo in `directory`, printing each line with `out`; `clearance` is the argv
    prefix that runs the real command (e.g. [sys.executable, "-m", "clearance"]).
    Returns 0 when the story ends with GO and a verified audit pack, else the exit code of
    the step that went wrong (2 when the demo cannot start)."""
    needed = {"sklearn": "scikit-learn", "pytest": "pytest", "bandit": "bandit"}
    missing = [dist for module, dist in needed.items() if importlib.util.find_spec(module) is None]
    if missing:
        out(
            f"The demo needs {' and '.join(missing)}, not installed here: "
            "pip install 'clearance[demo]'"
        )
        return 2
    try:
        root = files.prepare_folder(directory)
    except (files.FolderRefused, OSError) as exc:
        out(f"Demo not started: {exc}")
        return 2
    environment = demo_environment(root / ".clearance", OWNER, root / IDENTITIES)
    shell = Shell(root, out, clearance, environment)
    try:
        _story(shell, root, out)
    except DemoFailed as exc:
        out(f"Demo stopped: {exc.message}")
        return exc.exit_code
    except (TemplateChanged, OSError, ValueError) as exc:
        out(f"Demo stopped: {exc}")
        return 2
    out(f"Attestation: {root / ATTESTATION}")
    out("Decision: GO")
    out(f"Workspace key: {root / WORKSPACE_KEY}")
    out(f"Audit pack: {root / PACK}")
    return 0


def _story(shell: Shell, root: Path, out: Callable[[str], None]) -> None:
    today = datetime.now(UTC).date()
    out(f"Clearance demo in {root}")
    out("A clinic wants a model that flags diabetes patients likely to progress fast, so")
    out("they get an earlier follow-up. Here is its first release, from training to audit.")

    _section(out, "1. Train a classifier on scikit-learn's bundled diabetes data")
    files.write_project_files(root)
    metrics = train_and_evaluate(root)
    out("Logistic regression (fixed seeds), label: progression above the median after a year.")
    out("Wrote models/model.pkl, data/holdout.csv")

    _section(out, "2. Evaluate on the holdout set")
    _show_metrics(out, metrics)
    out("Wrote eval/metrics.json")

    _section(out, "3. Run the model's test suite")
    files.write_model_tests(root)
    shell.run([sys.executable, "-m", *MODEL_TESTS], " ".join(MODEL_TESTS))

    _section(out, "3b. Scan the scoring service for security issues (Bandit, SARIF)")
    (root / BANDIT_REPORT).parent.mkdir(parents=True, exist_ok=True)
    shell.run([sys.executable, "-m", *BANDIT], " ".join(BANDIT))
    finding = _bandit_finding(root, "B301")
    out(f"Bandit reports {finding[0]} at {finding[1]}: the model is unpickled (see risk R-002).")

    _section(out, "4. Record the environments")
    (root / STAGING_MANIFEST).parent.mkdir(parents=True, exist_ok=True)
    shell.clearance("env", "capture", "staging", "-o", STAGING_MANIFEST)
    acknowledge = _write_manifests(root, out)

    _section(out, "5. Create the workspace, write the deployment plan and submit it")
    out(f"{OWNER} creates the workspace and so becomes its first administrator; from here")
    out("on every command is signed by whoever runs it, with their own key.")
    shell.clearance("init")
    shell.clearance("env", "declare", "production", "-d", "Clinic cloud, AWS eu-west-1")
    files.write_text(root, "policy.yaml", POLICY)
    out("The policy lets the security role accept single scanner findings, for 30 days at most:")
    shell.clearance("policy", "set", "policy.yaml")
    files.write_release_files(root, today)
    files.write_text(root, "plan.yaml", demo_plan_text(acknowledge))
    out("Wrote plan.yaml from the tabular-classifier template, with risks.yaml,")
    out(f"docs/rollback.md, {files.REHEARSAL} and {files.CHANGE_TICKET}")
    shell.clearance("plan", "validate", "plan.yaml")
    shell.clearance("plan", "submit", "plan.yaml", "-m", "First release")

    _section(
        out,
        "6. Ask the gate: NO-GO expected (no user testing report, an open scan finding, "
        "no acknowledgement, no sign-offs)",
    )
    shell.clearance("check", "plan.yaml", expect=1)

    _section(out, "6b. The administrator registers the people who sign off, each with their key")
    for person, role in (
        (MODEL_RISK, "model-risk"),
        (ENG_MANAGER, "eng-manager"),
        (PRODUCT_OWNER, "product-owner"),
        (SECURITY, "security"),
        (PATIENTS_REPRESENTATIVE, PATIENTS_ROLE),
    ):
        shell.clearance("keys", "generate", "-o", _key(person))
        shell.clearance(
            "people", "add", person, "--role", role, "--public-key", _key(person) + ".pub"
        )

    _section(out, "7. User testing report, and a sign-off review that says no")
    files.write_uat_report(root, today)
    out(f"Wrote {files.UAT_REPORT}")
    _attest_uat(shell)
    shell.clearance("check", "plan.yaml", expect=1)
    shell.clearance(
        "--identity", _key(MODEL_RISK), "reject", "plan.yaml", "--role", "model-risk",
        "-m", "The plan bounds the accuracy gap between groups but not the "
        "AUC gap; add a criterion for it before this goes out.",
    )  # fmt: skip
    shell.clearance("check", "plan.yaml", expect=1)

    _section(out, "8. Fix the plan: a new candidate, so the rejection no longer applies")
    plan_file = root / "plan.yaml"
    plan_file.write_text(plan_file.read_text().replace(FAIRNESS_ANCHOR, AUC_GAP + FAIRNESS_ANCHOR))
    out("Added criterion fairness-auc (fairness.auc_gap <= 0.10) to plan.yaml")
    shell.clearance(
        "plan", "submit", "plan.yaml", "-m", "Bound the AUC gap between groups (model-risk review)"
    )
    _attest_uat(shell)  # evidence is attested for the candidate it was reviewed with
    out("The gate attaches the plan's evidence to the new candidate; sign-offs come after,")
    out("bound to exactly that evidence.")
    shell.clearance("check", "plan.yaml", expect=1)
    out("Security accepts the scan's one finding for this candidate, until a set date:")
    rule, location = finding
    shell.clearance(
        "--identity", _key(SECURITY), "finding", "accept", "plan.yaml", "--criterion",
        "code-scan", "--rule", rule, "--location", location, "--role", "security",
        "--expires", "30d", "-m", "Only the released model file is unpickled, after its "
        "sha256 matched the released digest (risk R-002).",
    )  # fmt: skip
    out("The patients' representative acknowledges what the plan says for patients:")
    shell.clearance(
        "--identity", _key(PATIENTS_REPRESENTATIVE), "acknowledge", "plan.yaml",
        "--party", PATIENTS, "-m", "Reviewed with the patient panel: earlier follow-ups, "
        "and a clinician keeps the final say.",
    )  # fmt: skip
    holdout, fairness = metrics["holdout"], metrics["fairness"]
    shell.clearance(
        "--identity", _key(MODEL_RISK), "approve", "plan.yaml", "--role", "model-risk",
        "-m", f"Holdout AUC {holdout['auc']}; accuracy gap "
        f"{fairness['accuracy_gap']} and AUC gap {fairness['auc_gap']} between sexes are "
        "within our model risk appetite.",
    )  # fmt: skip
    shell.clearance(
        "--identity", _key(ENG_MANAGER), "approve", "plan.yaml", "--role", "eng-manager",
        "-m", "Tests green, rollback rehearsed, change approved: go.",
    )  # fmt: skip

    _section(out, "9. Ask the gate again: GO expected; release and export the audit pack")
    shell.clearance("check", "plan.yaml")
    shell.clearance("attestation", "export", "plan.yaml", "-o", ATTESTATION)
    shell.clearance("keys", "workspace", "-o", WORKSPACE_KEY)
    model = _model_digest(root)
    shell.clearance(
        "attestation", "verify", ATTESTATION, "--subject", model, "--key", WORKSPACE_KEY
    )
    _tamper(root / ATTESTATION, root / TAMPERED)
    out(f"Changed one byte of the attestation's signature into {TAMPERED}:")
    shell.clearance(
        "attestation", "verify", TAMPERED, "--subject", model, "--key", WORKSPACE_KEY, expect=3
    )
    shell.clearance("release", "plan.yaml")
    shell.clearance("status")
    shell.clearance("export", "plan.yaml", "-o", PACK)
    out("An auditor checks the pack offline against the workspace key they were given:")
    shell.clearance("pack", "verify", PACK, "--key", WORKSPACE_KEY)


def _key(person: str) -> str:
    return f"keys/{person.split('@')[0]}.pem"


def _attest_uat(shell: Shell) -> None:
    shell.clearance(
        "--identity", _key(PRODUCT_OWNER), "evidence", "add", files.UAT_REPORT,
        "--plan", "plan.yaml", "--criterion", "uat", "--role", "product-owner",
    )  # fmt: skip


def _bandit_finding(root: Path, rule: str) -> tuple[str, str]:
    """(rule, path:line) of the first result of `rule` in the Bandit report."""
    try:
        report = json.loads((root / BANDIT_REPORT).read_text(encoding="utf-8"))
        for run in report["runs"]:
            for result in run.get("results") or []:
                if result.get("ruleId") == rule:
                    where = result["locations"][0]["physicalLocation"]
                    return (
                        rule,
                        f"{where['artifactLocation']['uri']}:{where['region']['startLine']}",
                    )
    except (OSError, ValueError, KeyError, IndexError, TypeError) as exc:
        raise DemoFailed(f"could not read {BANDIT_REPORT} written by Bandit: {exc}") from None
    raise DemoFailed(f"Bandit reported no {rule} in {BANDIT_REPORT}; the demo expects one")


def _model_digest(root: Path) -> str:
    import hashlib

    return "sha256:" + hashlib.sha256((root / "models/model.pkl").read_bytes()).hexdigest()


def _tamper(source: Path, target: Path) -> None:
    """Flip one bit of the first signature byte: what a forged or corrupted file looks like."""
    envelope = json.loads(source.read_text())
    import base64

    sig = bytearray(base64.b64decode(envelope["signatures"][0]["sig"]))
    sig[0] ^= 1
    envelope["signatures"][0]["sig"] = base64.b64encode(bytes(sig)).decode()
    target.write_text(json.dumps(envelope, indent=2))


def _write_manifests(root: Path, out: Callable[[str], None]) -> dict[str, str]:
    """Complete the captured staging manifest, derive production, return the notes for
    every difference between them."""
    path = root / STAGING_MANIFEST
    try:
        captured = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DemoFailed(
            f"could not read {STAGING_MANIFEST} written by the capture: {exc}"
        ) from None
    if not isinstance(captured, dict):
        raise DemoFailed(f"{STAGING_MANIFEST} is not a JSON object")
    staging, filled = environments.complete_staging(captured)
    path.write_text(json.dumps(staging, indent=2) + "\n", encoding="utf-8")
    production = environments.production_from(staging)
    files.write_text(root, PRODUCTION_MANIFEST, environments.production_yaml(production))
    out(f"Recorded staging as on-premises in {STAGING_MANIFEST} (capture cannot tell).")
    for note in filled:
        out(f"Note: {note}.")
    out(f"Wrote {PRODUCTION_MANIFEST}: same runtime and packages, hosted on AWS in eu-west-1.")
    acknowledge = environments.acknowledgements(staging, production)
    out(f"Differences the plan acknowledges: {', '.join(acknowledge) or 'none'}")
    return acknowledge


def _show_metrics(out: Callable[[str], None], metrics: dict[str, Any]) -> None:
    holdout, groups, fairness = metrics["holdout"], metrics["groups"], metrics["fairness"]
    out(
        f"holdout ({holdout['n']} patients): accuracy {holdout['accuracy']}, "
        f"AUC {holdout['auc']}, F1 {holdout['f1']}"
    )
    for name, group in groups.items():
        out(f"  {name} ({group['n']}): accuracy {group['accuracy']}, AUC {group['auc']}")
    out(f"fairness: accuracy gap {fairness['accuracy_gap']}, AUC gap {fairness['auc_gap']}")


def _section(out: Callable[[str], None], title: str) -> None:
    out("")
    out(f"== {title}")
