"""The first day's commands: workspace discovery, `init` that never nests, template listing,
`status` at 80 columns and as JSON, `history`, `plan validate` in one pass, `plan diff` on
files, `evidence add` that would be ignored, `check --format github|pr --also`, and wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from clearance.templates import TEMPLATES
from tests.builders import plan_document, write_plan_folder
from tests.cli.harness import Completed, invoke

ADMIN = "ops@example.com"
LONG = "helpdesk-answer-drafting-assistant-for-the-emea-region"
SIGNERS = {"dana": "model-risk", "erik": "eng-manager", "carol": "product-owner"}


def env_for(tmp_path: Path) -> dict[str, str]:
    return {"CLEARANCE_HOME": str(tmp_path / "home"), "CLEARANCE_USER": ADMIN}


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A workspace at tmp_path (ops is admin) with signers whose keys are in keys/."""
    env = env_for(tmp_path)
    write_plan_folder(tmp_path)
    assert invoke(tmp_path, "init", env=env).returncode == 0
    assert invoke(tmp_path, "env", "declare", "production", env=env).returncode == 0
    for person, role in SIGNERS.items():
        key = f"keys/{person}.pem"
        assert invoke(tmp_path, "keys", "generate", "-o", key, env=env).returncode == 0
        added = invoke(
            tmp_path, "people", "add", f"{person}@example.com", "--role", role,
            "--public-key", f"{key}.pub", env=env,
        )  # fmt: skip
        assert added.returncode == 0, added.stderr
    return tmp_path


def run(root: Path, *args: str, cwd: Path | None = None, **env: str) -> Completed:
    return invoke(cwd or root, *args, env={**env_for(root), **env})


def make_go(root: Path, plan: str = "plan.yaml") -> None:
    """Check (which attaches the files the plan names), attest user testing and sign off,
    so the plan's candidate is GO."""
    run(root, "check", plan)
    steps = [
        ("evidence", "add", "docs/uat.md", "--plan", plan, "--criterion", "uat",
         "--role", "product-owner", "--key", "keys/carol.pem"),
        ("approve", plan, "--role", "model-risk", "--key", "keys/dana.pem"),
        ("approve", plan, "--role", "eng-manager", "--key", "keys/erik.pem"),
    ]  # fmt: skip
    for step in steps:
        done = run(root, *step)
        assert done.returncode == 0, done.stderr


def set_plan(root: Path, **changes: object) -> None:
    document = yaml.safe_load((root / "plan.yaml").read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = document
        for part in parents:
            node = node[part]
        node[last] = value
    (root / "plan.yaml").write_text(yaml.safe_dump(document, sort_keys=False))


# -- workspace discovery -------------------------------------------------------------------


def test_commands_find_the_workspace_from_a_subfolder(project: Path) -> None:
    """As git does: `status` and `check ../plan.yaml` work from docs/deep/."""
    deep = project / "docs" / "deep"
    deep.mkdir()
    assert run(project, "status", cwd=deep).returncode == 0
    checked = run(project, "check", "../../plan.yaml", "--format", "json", cwd=deep)
    assert checked.returncode == 1, checked.stderr
    assert not (deep / ".clearance").exists()


def test_clearance_workspace_overrides_discovery(project: Path, tmp_path: Path) -> None:
    """An explicit workspace wins; one that does not exist says so and how to make one."""
    other = tmp_path / "elsewhere" / ".clearance"
    done = run(project, "status", cwd=project / "docs", CLEARANCE_WORKSPACE=str(other))
    assert done.returncode == 2
    assert f"no Clearance workspace at {other}" in done.stderr
    assert "run `clearance init` in your project's top folder" in done.stderr


def test_init_in_a_subfolder_refuses_to_nest_and_names_the_workspace(project: Path) -> None:
    sub = project / "docs"
    refused = run(project, "init", "--template", "llm-app", cwd=sub)
    assert refused.returncode == 2
    assert f"inside the Clearance workspace at {project / '.clearance'}" in refused.stderr
    assert "--nested" in refused.stderr
    assert not (sub / ".clearance").exists() and not (sub / "plan.yaml").exists()
    nested = run(project, "init", "--nested", cwd=sub)
    assert nested.returncode == 0, nested.stderr
    assert (sub / ".clearance" / "config.json").is_file()


def test_init_template_without_a_name_lists_them_and_creates_nothing(tmp_path: Path) -> None:
    done = invoke(tmp_path, "init", "--template", env=env_for(tmp_path))
    assert done.returncode == 0, done.stderr
    for name, description in TEMPLATES.items():
        assert name in done.stdout
        assert description.split()[0] in done.stdout
    assert "vision-model" in TEMPLATES
    assert not (tmp_path / ".clearance").exists()


# -- status and history ----------------------------------------------------------------------


def _released_twice_and_rolled_back(root: Path) -> None:
    """2.4.0 released, 2.5.0 (a new model) released, then the 2.4.0 model again, by a plan
    that says it rolls back (a new candidate deploying 2.4.0's components)."""
    make_go(root)
    assert run(root, "release", "plan.yaml").returncode == 0
    model = (root / "models/scorer.bin").read_bytes()
    (root / "models/scorer.bin").write_bytes(b"retrained")
    set_plan(root, release__version="2.5.0", rollback__to="previous")
    make_go(root)
    done = run(root, "release", "plan.yaml")
    assert done.returncode == 0, done.stdout + done.stderr
    (root / "models/scorer.bin").write_bytes(model)
    set_plan(root, release__version="2.4.0")
    make_go(root)
    done = run(root, "release", "plan.yaml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_history_lists_releases_and_rollbacks_per_environment(project: Path) -> None:
    """Oldest first, each with what it replaced; the third is a rollback to the first."""
    _released_twice_and_rolled_back(project)
    found = json.loads(run(project, "history", "credit-scoring", "--format", "json").stdout)
    first = found[0]["release_id"]
    assert [
        (e["version"], e["kind"], e["replaced_version"], e["returns_to_release"]) for e in found
    ] == [
        ("2.4.0", "release", None, None),
        ("2.5.0", "release", "2.4.0", None),
        ("2.4.0", "rollback", "2.5.0", first),
    ]
    table = " ".join(
        run(project, "history", "credit-scoring", "--target", "production").stdout.split()
    )
    assert "credit-scoring in production" in table
    assert "released 2.5.0, replacing 2.4.0" in table
    assert f"rollback to 2.4.0 (as release #{first}), replacing 2.5.0" in table


def test_history_of_an_environment_without_releases_and_of_an_unknown_system(
    project: Path,
) -> None:
    assert run(project, "check", "plan.yaml").returncode == 1
    none = run(project, "history", "credit-scoring", "--target", "staging")
    assert none.returncode == 0 and "credit-scoring has no release to staging yet" in none.stdout
    unknown = run(project, "history", "no-such-system")
    assert unknown.returncode == 2 and 'no system "no-such-system"' in unknown.stderr


def test_status_at_80_columns_cuts_no_key_cell(project: Path) -> None:
    """A long system name, component and version wrap instead of ending in an ellipsis."""
    set_plan(project, system__id=LONG)
    make_go(project)
    assert run(project, "release", "plan.yaml").returncode == 0
    set_plan(project, release__version="2.5.0-rc.1+build.20261201")
    assert run(project, "check", "plan.yaml").returncode == 1
    done = run(project, "status", COLUMNS="80")
    assert done.returncode == 0
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80, done.stdout
    assert "…" not in done.stdout
    assert LONG in lines[0]  # the heading names the system in full
    first_column = "".join(line.split("│")[1].strip() for line in lines if line.startswith("│"))
    assert "2.5.0-rc.1+build.20261201" in first_column  # a long version folds, whole


def test_status_json_and_superseded_candidates(project: Path) -> None:
    """Two NO-GO candidates of one system and target: only the newer waits; after the
    release of a third, none does."""
    assert run(project, "check", "plan.yaml").returncode == 1
    set_plan(project, release__version="2.4.1")
    assert run(project, "check", "plan.yaml").returncode == 1
    state = json.loads(run(project, "status", "--format", "json").stdout)
    assert state["inventory"] == []
    assert [(p["system"], p["version"], p["decision"]) for p in state["pending"]] == [
        ("credit-scoring", "2.4.1", "NO-GO")
    ]
    assert state["pending"][0]["candidate"].startswith("sha256:")
    set_plan(project, release__version="2.4.2")
    make_go(project)
    assert run(project, "release", "plan.yaml").returncode == 0
    state = json.loads(run(project, "status", "--format", "json").stdout)
    assert state["pending"] == []
    assert {d["release_version"] for d in state["inventory"]} == {"2.4.2"}
    assert all(d["digest"].startswith("sha256:") for d in state["inventory"])


# -- validate, diff, evidence ----------------------------------------------------------------


def test_plan_validate_reports_every_problem_in_one_pass(tmp_path: Path) -> None:
    """A schema error, a duplicate id and a missing artifact file, each at file:line:col."""
    document = plan_document()
    document["criteria"].append(dict(document["criteria"][0]))  # duplicate id "auc"
    document["criteria"][1]["min_tests"] = "ten"  # schema error
    write_plan_folder(tmp_path, document=document)
    (tmp_path / "models/scorer.bin").unlink()
    done = invoke(tmp_path, "plan", "validate", "plan.yaml", env=env_for(tmp_path))
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 3, done.stderr
    assert any("min_tests" in e for e in errors)
    assert any('duplicate criterion id "auc"' in e for e in errors)
    assert any("artifact models/scorer.bin not found" in e for e in errors)
    assert all(e.startswith("error: plan.yaml:") for e in errors)
    assert "3 problems in the plan" in done.stderr


def test_plan_validate_and_check_name_every_missing_artifact(tmp_path: Path) -> None:
    document = plan_document()
    document["components"][1] = {
        "name": "api",
        "kind": "software",
        "version": "1",
        "artifact": "api.tar",
    }
    write_plan_folder(tmp_path, document=document)
    (tmp_path / "models/scorer.bin").unlink()
    env = env_for(tmp_path)
    assert invoke(tmp_path, "init", env=env).returncode == 0
    assert invoke(tmp_path, "env", "declare", "production", env=env).returncode == 0
    for args in (("plan", "validate", "plan.yaml"), ("check", "plan.yaml")):
        done = invoke(tmp_path, *args, env=env)
        assert done.returncode == 2, done.stderr
        assert "models/scorer.bin not found" in done.stderr and "api.tar not found" in done.stderr
        assert "2 problems in the plan; nothing was recorded" in done.stderr


def test_plan_diff_takes_plan_files_and_revisions(project: Path) -> None:
    submitted = run(project, "plan", "submit", "plan.yaml", "-m", "first")
    revision = submitted.stdout.split("revision ")[1].split()[0]
    set_plan(project, release__version="2.5.0")
    for before in (revision, revision.removeprefix("sha256:")[:8]):
        done = run(project, "plan", "diff", before, "plan.yaml", "--format", "json")
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        assert found["before"] == revision
        assert [(c["section"], c["field"], c["after"]) for c in found["changes"]] == [
            ("release", "version", "2.5.0")
        ]
    (project / "old.yaml").write_text((project / "plan.yaml").read_text())
    same = run(project, "plan", "diff", "old.yaml", "plan.yaml")
    assert same.returncode == 0 and "0 change(s)" in same.stdout
    bad = run(project, "plan", "diff", "zzz", "plan.yaml")
    assert bad.returncode == 2 and "neither a plan file nor a revision digest" in bad.stderr


def test_evidence_add_to_a_criterion_that_reads_only_plan_named_files(project: Path) -> None:
    """Refused (exit 2, nothing recorded) when the file would never be read; accepted with a
    note when it is the named file; criteria that read every attachment take any file."""
    (project / "other.json").write_text('{"holdout": {"auc": 0.99}}')
    refused = run(
        project, "evidence", "add", "other.json", "--plan", "plan.yaml", "--criterion", "auc"
    )
    assert refused.returncode == 2
    assert "criterion auc reads eval/metrics.json, named in the plan" in refused.stderr
    assert 'attached as "other.json" would never be read' in refused.stderr
    events = json.loads(run(project, "status", "--format", "json").stdout)
    assert events["pending"] == []  # nothing submitted or decided by the refusal
    named = run(
        project, "evidence", "add", "eval/metrics.json", "--plan", "plan.yaml", "--criterion", "auc"
    )
    assert named.returncode == 0, named.stderr
    assert "note: criterion auc reads eval/metrics.json" in named.stdout
    extra = run(
        project,
        "evidence",
        "add",
        "reports/junit.xml",
        "--plan",
        "plan.yaml",
        "--criterion",
        "tests",
    )
    assert extra.returncode == 0 and "note:" not in extra.stdout  # every report is summed


# -- check outputs and wording -------------------------------------------------------------


def test_check_github_annotations_with_also_outputs(project: Path) -> None:
    done = run(
        project, "check", "plan.yaml", "--format", "github",
        "--also", "junit=out/gate.xml", "--also", "pr=out/comment.md",
    )  # fmt: skip
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any(
        line.startswith("::error title=signoff%3A pending,file=plan.yaml,line=") for line in lines
    )
    assert lines[-1] == (
        "::notice title=Release gate%3A NO-GO::credit-scoring 2.4.0: NO-GO — 2 criteria block "
        "the release"
    )
    assert (project / "out/gate.xml").read_text().startswith("<?xml")
    comment = (project / "out/comment.md").read_text()
    assert "First release to production" in comment and "| uat |" in comment


def test_pr_comment_shows_changes_since_the_released_revision(project: Path) -> None:
    make_go(project)
    assert run(project, "release", "plan.yaml").returncode == 0
    set_plan(project, release__version="2.5.0", rollback__to="previous")
    (project / "models/scorer.bin").write_bytes(b"retrained")
    done = run(project, "check", "plan.yaml", "--format", "pr")
    assert done.returncode == 1
    assert "What changed since the released revision (2.4.0, release #" in done.stdout
    assert "release: version '2.4.0' -&gt; '2.5.0'" in done.stdout
    assert "components scorer: digest" in done.stdout
    assert "**NO-GO — 2 criteria block the release**" in done.stdout


@pytest.mark.parametrize("spec", ["junit", "table=x.txt", "nope=x", "junit="])
def test_a_bad_also_is_refused_before_anything_is_recorded(project: Path, spec: str) -> None:
    done = run(project, "check", "plan.yaml", "--also", spec)
    assert done.returncode == 2 and "give FORMAT=FILE" in done.stderr
    state = json.loads(run(project, "status", "--format", "json").stdout)
    assert state["pending"] == []


def test_one_blocking_criterion_is_singular(project: Path) -> None:
    make_go(project)
    assert (
        run(
            project,
            "reject",
            "plan.yaml",
            "--role",
            "model-risk",
            "-m",
            "no",
            "--key",
            "keys/dana.pem",
        ).returncode
        == 0
    )
    done = run(project, "check", "plan.yaml")
    assert "Decision: NO-GO — 1 criterion blocks the release" in " ".join(done.stdout.split())


def test_a_policy_error_names_the_policy(project: Path) -> None:
    (project / "policy.yaml").write_text("apiVersion: clearance/v1\nkind: Policy\ntargets: 3\n")
    done = run(project, "policy", "set", "policy.yaml")
    assert done.returncode == 2
    assert "1 problem in the policy; nothing was recorded." in done.stderr
    assert "in the plan" not in done.stderr
