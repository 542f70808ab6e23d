"""Files a plan names stay inside the plan's folder (or a declared root) and out of any
workspace; documents are read under a size limit, with clear errors."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click.testing
import pytest
import yaml

from clearance.client.paths import check_plan_paths, declared_roots, read_document
from clearance.core.loader import parse_plan
from clearance.errors import PlanError, UsageError
from tests.builders import load, open_workspace, plan_document, write_plan_folder

SECRET = b"-----BEGIN PRIVATE KEY-----\nnot really\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A complete plan folder at tmp/project, a secret at tmp/outside/secret.txt, and a
    workspace with its key at tmp/project/.clearance."""
    folder = tmp_path / "project"
    write_plan_folder(folder)
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside/secret.txt").write_bytes(SECRET)
    (folder / ".clearance/keys").mkdir(parents=True)
    (folder / ".clearance/keys/workspace.pem").write_bytes(SECRET)
    return folder


def naming(folder: Path, evidence: str, **overrides: Any) -> tuple[Path, str]:
    """Rewrite the plan so that the metric criterion's evidence is `evidence`."""
    document = plan_document(**overrides)
    document["criteria"][0]["evidence"] = evidence
    text = yaml.safe_dump(document, sort_keys=False)
    plan = folder / "plan.yaml"
    plan.write_text(text)
    return plan, text


def check(plan: Path, text: str, **kwargs: Any) -> None:
    check_plan_paths(parse_plan(text, str(plan)), text, plan, **kwargs)


def where(text: str, written: str) -> str:
    """`line:column` of the value `written` in the plan's text."""
    for number, line in enumerate(text.splitlines(), start=1):
        column = line.find(f": {written}")
        if column >= 0:
            return f"{number}:{column + 3}"
    raise AssertionError(f"{written} is not in the plan")


def refused(plan: Path, text: str, written: str, **kwargs: Any) -> str:
    """Assert the check refuses `written` at its position; return the one problem's text."""
    with pytest.raises(PlanError) as caught:
        check(plan, text, **kwargs)
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert str(problem).startswith(f"{plan}:{where(text, written)}: criteria[0].evidence: ")
    return problem.message


def test_a_complete_plan_with_nested_paths_passes(project: Path) -> None:
    plan = project / "plan.yaml"
    check(plan, plan.read_text(), workspace_dir=project / ".clearance")


def test_the_workspace_key_is_refused(project: Path) -> None:
    plan, text = naming(project, ".clearance/keys/workspace.pem")
    message = refused(plan, text, ".clearance/keys/workspace.pem")
    assert "inside a .clearance folder" in message


def test_a_workspace_folder_in_other_case_is_refused(project: Path) -> None:
    """On a case-insensitive file system `.Clearance` is the workspace too."""
    plan, text = naming(project, "docs/../.Clearance/keys/workspace.pem")
    assert "inside a .clearance folder" in refused(plan, text, "docs/../.Clearance/keys/")


def test_dot_dot_escape_is_refused(project: Path) -> None:
    plan, text = naming(project, "../../etc/passwd")
    message = refused(plan, text, "../../etc/passwd")
    assert "leads out of the plan's folder" in message
    assert "move the file into the plan's folder" in message
    assert "evidence_roots" in message


def test_absolute_path_is_refused(project: Path) -> None:
    plan, text = naming(project, "/etc/passwd")
    assert "is an absolute path outside the plan's folder" in refused(plan, text, "/etc/passwd")


def test_symlink_in_the_plan_folder_leading_outside_is_refused(project: Path) -> None:
    (project / "eval/leak.json").symlink_to(project.parent / "outside/secret.txt")
    plan, text = naming(project, "eval/leak.json")
    message = refused(plan, text, "eval/leak.json")
    assert "symbolic link leading to" in message
    assert str(project.parent / "outside/secret.txt") in message


def test_symlinked_subfolder_leading_outside_is_refused(project: Path) -> None:
    (project / "shared").symlink_to(project.parent / "outside", target_is_directory=True)
    plan, text = naming(project, "shared/secret.txt")
    assert "symbolic link" in refused(plan, text, "shared/secret.txt")


def test_missing_file_under_a_symlinked_subfolder_leading_outside_is_refused(
    project: Path,
) -> None:
    (project / "shared").symlink_to(project.parent / "outside", target_is_directory=True)
    plan, text = naming(project, "shared/not-yet.json")
    assert "symbolic link" in refused(plan, text, "shared/not-yet.json")


def test_symlink_into_a_clearance_folder_is_refused(project: Path) -> None:
    """A link inside the plan folder to the workspace key is refused with no workspace given."""
    (project / "eval/key.json").symlink_to(project / ".clearance/keys/workspace.pem")
    plan, text = naming(project, "eval/key.json")
    assert "inside a .clearance folder" in refused(plan, text, "eval/key.json")


def test_workspace_with_another_name_inside_the_plan_folder_is_refused(project: Path) -> None:
    """CLEARANCE_WORKSPACE may name the workspace anything; it is still refused."""
    workspace = project / "ws"
    (workspace / "keys").mkdir(parents=True)
    (workspace / "keys/workspace.pem").write_bytes(SECRET)
    plan, text = naming(project, "ws/keys/workspace.pem")
    message = refused(plan, text, "ws/keys/workspace.pem", workspace_dir=workspace)
    assert f"leads into the workspace folder {workspace}" in message


def test_symlink_to_a_workspace_with_another_name_is_refused(project: Path) -> None:
    workspace = project / "ws"
    (workspace / "keys").mkdir(parents=True)
    (workspace / "keys/workspace.pem").write_bytes(SECRET)
    (project / "docs/ws-link").symlink_to(workspace, target_is_directory=True)
    plan, text = naming(project, "docs/ws-link/keys/workspace.pem")
    message = refused(plan, text, "docs/ws-link/keys/", workspace_dir=workspace)
    assert "leads into the workspace folder" in message


def test_a_plan_folder_inside_the_workspace_is_told_to_move_out(project: Path) -> None:
    plan = project / "plan.yaml"
    with pytest.raises(PlanError) as caught:
        check(plan, plan.read_text(), workspace_dir=project)
    assert "keep plans and their files outside it" in str(caught.value)


def test_a_declared_root_is_allowed(project: Path) -> None:
    """Absolute and relative paths into a folder an admin declared are both fine."""
    shared = project.parent / "outside"
    for written in (str(shared / "secret.txt"), "../outside/secret.txt"):
        plan, text = naming(project, written)
        check(plan, text, roots=[shared], workspace_dir=project / ".clearance")


def test_a_declared_root_does_not_open_the_workspace(project: Path) -> None:
    plan, text = naming(project, ".clearance/keys/workspace.pem")
    refused(plan, text, ".clearance/keys/workspace.pem", roots=[project / ".clearance"])


def test_a_missing_file_inside_the_folder_is_allowed(project: Path) -> None:
    """Missing files are reported later, by the evaluators."""
    plan, text = naming(project, "eval/not-yet/metrics.json")
    check(plan, text, workspace_dir=project / ".clearance")


def test_a_nul_character_is_refused(project: Path) -> None:
    plan, text = naming(project, "eval/m\0.json")
    with pytest.raises(PlanError, match="NUL character"):
        check(plan, text)


@pytest.mark.parametrize(
    ("section", "field"),
    [
        ("components", "components[0].artifact"),
        ("environments", "environments.staging.file"),
        ("procedure", "rollback.procedure"),
        ("rehearsal", "rollback.rehearsal"),
        ("tests", "criteria[1].evidence[1]"),
        ("documents", "criteria[2].documents[0]"),
        ("register", "criteria[7].register"),
        ("change", "criteria[8].evidence"),
    ],
)
def test_every_field_naming_a_file_is_checked(project: Path, section: str, field: str) -> None:
    document = plan_document()
    escape = "../outside/secret.txt"
    if section == "components":
        document["components"][0]["artifact"] = escape
    elif section == "environments":
        document["environments"]["staging"]["file"] = escape
    elif section in ("procedure", "rehearsal"):
        document["rollback"][section] = escape
    elif section == "tests":
        document["criteria"][1]["evidence"] = ["reports/junit.xml", escape]
    elif section == "documents":
        document["criteria"][2]["documents"] = [escape]
    criteria = document["criteria"]
    criteria.append({"id": "risks", "kind": "risk", "register": "risk.yaml"})
    criteria.append({"id": "ticket", "kind": "change", "evidence": "ticket.json"})
    if section == "register":
        criteria[7]["register"] = escape
    elif section == "change":
        criteria[8]["evidence"] = escape
    text = yaml.safe_dump(document, sort_keys=False)
    plan = project / "plan.yaml"
    with pytest.raises(PlanError) as caught:
        check(plan, text)
    [problem] = caught.value.problems
    assert problem.field == field
    assert problem.line is not None and problem.column is not None
    assert text.splitlines()[problem.line - 1][problem.column - 1 :] == escape


def test_every_problem_is_listed_in_file_order(project: Path) -> None:
    document = plan_document()
    document["components"][0]["artifact"] = "/etc/hostname"
    document["rollback"]["procedure"] = "../../etc/passwd"
    document["criteria"][0]["evidence"] = ".clearance/keys/workspace.pem"
    text = yaml.safe_dump(document, sort_keys=False)
    with pytest.raises(PlanError) as caught:
        check(project / "plan.yaml", text)
    fields = [p.field for p in caught.value.problems]
    assert fields == ["components[0].artifact", "rollback.procedure", "criteria[0].evidence"]
    lines = [p.line or 0 for p in caught.value.problems]
    assert lines == sorted(lines)


# -- reading a plan through the client ----------------------------------------------------------


def test_the_client_refuses_a_plan_naming_a_file_outside(project: Path) -> None:
    """`LocalClient.plan` checks the paths before the plan reaches the services."""
    plan, text = naming(project, "../outside/secret.txt")
    ws = open_workspace(project.parent / "ws")
    try:
        with pytest.raises(PlanError) as caught:
            load(ws, plan)
    finally:
        ws.close()
    position = where(text, "../outside/secret.txt")
    assert str(caught.value).startswith(f"{plan}:{position}: criteria[0].evidence: ../outside")


def test_the_client_refuses_a_plan_naming_the_key_of_its_workspace(project: Path) -> None:
    """With the workspace inside the plan's folder, its key is out of reach of the plan."""
    plan, _ = naming(project, ".clearance/keys/workspace.pem")
    (project / ".clearance/keys/workspace.pem").unlink()  # the workspace makes its own
    ws = open_workspace(project / ".clearance")
    try:
        with pytest.raises(PlanError) as caught:
            load(ws, plan)
    finally:
        ws.close()
    assert "inside a .clearance folder" in str(caught.value)


def test_the_client_allows_the_roots_declared_in_the_workspace_config(project: Path) -> None:
    plan, _ = naming(project, "../outside/secret.txt")
    ws = open_workspace(project.parent / "ws")
    try:
        ws.write_config(evidence_roots=[str(project.parent / "outside")])
        loaded = load(ws, plan).loaded
    finally:
        ws.close()
    assert loaded.plan.criteria[0].named_files(loaded.plan)[0].path == "../outside/secret.txt"


def test_clearance_plan_validate_names_the_position_and_exits_2(
    project: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The command reports plan.yaml:LINE:COL, exits 2 and shows no traceback."""
    from clearance.cli.main import main
    from clearance.cli.output import console

    _, text = naming(project, "../secret.txt")
    monkeypatch.chdir(project)
    monkeypatch.delenv("CLEARANCE_WORKSPACE", raising=False)
    console.cache_clear()
    runner = click.testing.CliRunner()
    with runner.isolation() as (_out, err, *_), pytest.raises(SystemExit) as exited:
        main(["plan", "validate", "plan.yaml"])
    stderr = err.getvalue().decode()
    assert exited.value.code == 2, stderr
    assert f"plan.yaml:{where(text, '../secret.txt')}: criteria[0].evidence: " in stderr
    assert "Traceback" not in stderr


# -- workspace configuration --------------------------------------------------------------------


@pytest.mark.parametrize(
    "config",
    [None, {"format": 1}, {"format": 1, "evidence_roots": None}],
    ids=["no config", "no key", "null"],
)
def test_no_declared_roots(tmp_path: Path, config: dict[str, Any] | None) -> None:
    if config is not None:
        (tmp_path / "config.json").write_text(json.dumps(config))
    assert declared_roots(tmp_path) == ()


def test_declared_roots_are_read(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text(json.dumps({"evidence_roots": ["/srv/a", "/srv/b"]}))
    assert declared_roots(tmp_path) == (Path("/srv/a"), Path("/srv/b"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        (json.dumps({"evidence_roots": "/srv/a"}), "must be a list of absolute folder paths"),
        (json.dumps({"evidence_roots": [1]}), "must be a list of absolute folder paths"),
        (json.dumps({"evidence_roots": ["srv/a"]}), "'srv/a' is not absolute"),
    ],
)
def test_a_bad_workspace_config_is_a_usage_error(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "config.json").write_text(content)
    with pytest.raises(UsageError, match=message) as caught:
        declared_roots(tmp_path)
    assert str(tmp_path / "config.json") in str(caught.value)


# -- documents under a size limit ---------------------------------------------------------------


def test_a_document_within_the_limit_is_read(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"x" * 100)
    assert read_document(path, 100, "policy file") == b"x" * 100


def test_a_document_over_the_limit_is_refused_with_size_and_limit(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(b"x" * 2048)
    with pytest.raises(UsageError) as caught:
        read_document(path, 1024, "policy file")
    assert caught.value.exit_code == 2
    assert str(caught.value) == (
        f"{path}: the policy file is 2,048 bytes, over the 1,024-byte limit; "
        "check that this is the right file"
    )


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux /proc")
def test_a_document_larger_than_its_stat_size_is_refused_without_reading_it_whole() -> None:
    """/proc files report size 0; reading stops one byte past the limit."""
    with pytest.raises(UsageError, match="is more than 10 bytes, over the 10-byte limit"):
        read_document(Path("/proc/self/status"), 10, "checkpoint")


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_a_read_error_is_a_usage_error() -> None:
    """Reading /proc/self/mem at offset 0 fails with EIO after a successful open."""
    with pytest.raises(UsageError, match=r"the checkpoint cannot be read \(Input/output error\)"):
        read_document(Path("/proc/self/mem"), 10, "checkpoint")


def test_a_missing_document(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"missing.pub: no such public key; check the path"):
        read_document(tmp_path / "missing.pub", 100, "public key")


def test_a_folder_instead_of_a_document(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="is a folder; give the envelope file itself"):
        read_document(tmp_path, 100, "envelope")


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(UsageError, match="not a regular file; give the envelope as a file"):
        read_document(fifo, 100, "envelope")


def test_a_path_through_a_file_cannot_be_read(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(UsageError, match=r"the envelope cannot be read \(Not a directory\)"):
        read_document(tmp_path / "file/inner", 100, "envelope")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_document(tmp_path: Path) -> None:
    path = tmp_path / "key.pub"
    path.write_text("x")
    path.chmod(0)
    try:
        with pytest.raises(UsageError, match="not readable \\(permission denied\\)"):
            read_document(path, 100, "public key")
    finally:
        path.chmod(0o600)
