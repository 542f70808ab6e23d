"""MLflow as a source of metrics and components and as the holder of release aliases, against a
real tracking and model registry store (a `sqlite:` URI in a temporary folder), offline and
with telemetry off. One store serves the module: creating it runs MLflow's migrations."""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
import yaml

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"  # before anything imports mlflow

from tests.builders import ADMIN, acting, open_workspace

from clearance.errors import EvidenceError, UsageError
from clearance.integrations.mlflow import MlflowReader, folder_digest
from clearance.services.workspace import Workspace

STAMP = 1_790_000_000_000  # milliseconds, as MLflow keeps metric times


@dataclass
class Store:
    uri: str
    root: Path
    runs: dict[str, str] = field(default_factory=dict)
    #: "model/version" -> the digest of the files logged as its artifacts
    digests: dict[str, str] = field(default_factory=dict)

    def client(self) -> Any:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.uri, registry_uri=self.uri)

    def fresh_model(self, *labels: str) -> str:
        """A new registered model, one version per logged run (so tests that move aliases
        or delete models do not see each other's)."""
        import uuid

        client = self.client()
        name = f"model-{uuid.uuid4().hex[:8]}"
        client.create_registered_model(name)
        for label in labels:
            run = client.get_run(self.runs[label])
            client.create_model_version(
                name, f"{run.info.artifact_uri}/model", run_id=run.info.run_id
            )
        return name


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    """helpdesk 1 (auc 0.85 then 0.90) and 2 (auc 0.88, alias `candidate`), a run that
    registered no model, and runs a1, a2 and r1 that tests register as fresh models."""
    root = tmp_path_factory.mktemp("mlflow")
    found = Store(f"sqlite:///{root}/mlflow.db", root)
    client = found.client()
    experiment = client.create_experiment("helpdesk", artifact_location=(root / "art").as_uri())

    def logged(label: str, metrics: dict[str, list[float]], model: str | None) -> None:
        run = client.create_run(experiment)
        run_id = run.info.run_id
        for key, values in metrics.items():
            for step, value in enumerate(values):
                client.log_metric(run_id, key, value, step=step, timestamp=STAMP + step)
        folder = root / "models" / label
        (folder / "weights").mkdir(parents=True)
        (folder / "MLmodel").write_text(f"flavors: {{}}\nrun: {label}\n")
        (folder / "weights" / "model.bin").write_bytes(label.encode() * 100)
        client.log_artifacts(run_id, str(folder), "model")
        client.set_terminated(run_id)
        found.runs[label] = run_id
        if model is not None:
            version = client.create_model_version(
                model, f"{run.info.artifact_uri}/model", run_id=run_id
            )
            found.digests[f"{model}/{version.version}"] = folder_digest(folder)

    client.create_registered_model("helpdesk")
    logged("v1", {"holdout_auc": [0.85, 0.90], "jailbreak_rate": [0.012]}, "helpdesk")
    logged("v2", {"holdout_auc": [0.88], "jailbreak_rate": [0.019]}, "helpdesk")
    logged("orphan", {"holdout_auc": [0.93]}, None)
    logged("a1", {"holdout_auc": [0.9]}, None)
    logged("a2", {"holdout_auc": [0.91]}, None)
    logged("r1", {"holdout_auc": [0.9]}, None)
    client.set_registered_model_alias("helpdesk", "candidate", "2")
    return found


@pytest.fixture
def reader(store: Store) -> Iterator[MlflowReader]:
    found = MlflowReader(store.uri)
    yield found
    found.scratch.cleanup()


# -- reading ------------------------------------------------------------------------------


def test_a_run_metric_is_read_with_its_step_and_time(store: Store, reader: MlflowReader) -> None:
    """The latest value by step, with the run, step and time it was logged at."""
    run = store.runs["v1"]
    doc = json.loads(reader.metric_document(f"mlflow://runs/{run}#holdout_auc", "auc", False))
    assert doc["run_id"] == run and doc["metric"] == "holdout_auc"
    assert (doc["value"], doc["step"], doc["timestamp"]) == (0.90, 1, STAMP + 1)
    assert doc["source"] == f"mlflow://runs/{run}#holdout_auc"
    assert "measured_on" not in doc  # only read when a criterion ties the metric to a model


def test_the_metric_defaults_to_the_criterion_metric(store: Store, reader: MlflowReader) -> None:
    doc = json.loads(
        reader.metric_document(f"mlflow://runs/{store.runs['v2']}", "jailbreak_rate", False)
    )
    assert doc["value"] == 0.019


def test_a_model_version_metric_comes_from_the_run_that_logged_it(
    store: Store, reader: MlflowReader
) -> None:
    doc = json.loads(reader.metric_document("mlflow://models/helpdesk/1#holdout_auc", "x", True))
    assert doc["run_id"] == store.runs["v1"]
    assert doc["model_version"] == {"name": "helpdesk", "version": "1"}
    assert doc["measured_on"] == [
        {"name": "helpdesk", "version": "1", "digest": store.digests["helpdesk/1"]}
    ]


def test_an_alias_reads_the_version_it_points_to(store: Store, reader: MlflowReader) -> None:
    doc = json.loads(
        reader.metric_document("mlflow://models/helpdesk@candidate#holdout_auc", "x", False)
    )
    assert (doc["model_version"]["version"], doc["value"]) == ("2", 0.88)


def test_the_same_read_gives_the_same_bytes(store: Store, reader: MlflowReader) -> None:
    """No read time in the document: re-checking an unchanged registry adds no evidence."""
    uri = "mlflow://models/helpdesk/2#holdout_auc"
    first = reader.metric_document(uri, "auc", True)
    assert MlflowReader(store.uri).metric_document(uri, "auc", True) == first


def test_model_digests_are_taken_over_the_artifact_files(
    store: Store, reader: MlflowReader
) -> None:
    """The digest of the downloaded artifacts equals that of the folder they were logged
    from: relative paths, contents and sizes only."""
    assert reader.component("mlflow://models/helpdesk/2").digest == store.digests["helpdesk/2"]
    assert reader.component("mlflow://models/helpdesk@candidate").version == "2"
    assert store.digests["helpdesk/1"] != store.digests["helpdesk/2"]


def test_folder_digest_is_independent_of_where_and_in_what_order(tmp_path: Path) -> None:
    for where, order in (("a", ["x/2.bin", "1.txt"]), ("b", ["1.txt", "x/2.bin"])):
        for name in order:
            (tmp_path / where / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / where / name).write_text(name)
    (tmp_path / "b" / "empty").mkdir()
    assert folder_digest(tmp_path / "a") == folder_digest(tmp_path / "b")
    (tmp_path / "b" / "1.txt").rename(tmp_path / "b" / "one.txt")
    assert folder_digest(tmp_path / "a") != folder_digest(tmp_path / "b")


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("mlflow://runs/0123456789abcdef#auc", "0123456789abcdef"),
        ("mlflow://models/nosuch/1#auc", "nosuch"),
        ("mlflow://models/helpdesk@gone#auc", "gone"),
        ("mlflow://models/helpdesk/1#no_such_metric", "it logged: holdout_auc, jailbreak_rate"),
    ],
)
def test_what_mlflow_does_not_have_is_a_clear_evidence_error(
    reader: MlflowReader, uri: str, message: str
) -> None:
    with pytest.raises(EvidenceError, match=message) as exc:
        reader.metric_document(uri, "auc", False)
    assert "Traceback" not in str(exc.value) and uri in str(exc.value)


def test_no_tracking_server_set_says_which_variable(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="MLFLOW_TRACKING_URI"):
        MlflowReader(None).metric_document("mlflow://runs/abc#auc", "auc", False)


def test_a_malformed_uri_names_the_forms(reader: MlflowReader) -> None:
    with pytest.raises(UsageError, match="mlflow://runs/RUN_ID#metric"):
        reader.metric_document("mlflow://experiments/1#auc", "auc", False)


# -- the gate -----------------------------------------------------------------------------


def plan(root: Path, *, source: str, metric: str, tie: bool = True, **component: Any) -> Path:
    """A plan releasing one registered model version, with one metric read from MLflow."""
    criterion: dict[str, Any] = {
        "id": "auc",
        "kind": "metric",
        "evidence": metric,
        "metric": "holdout_auc",
        "threshold": 0.8,
    }
    if tie:
        criterion["for"] = "assistant-model"
    doc = {
        "apiVersion": "clearance/v1",
        "kind": "DeploymentPlan",
        "system": {"id": "helpdesk", "name": "Helpdesk assistant", "owner": "alice@example.com"},
        "release": {
            "version": component.pop("version", "1.1.0"),
            "source": "staging",
            "target": "production",
        },
        "components": [
            {
                "name": "assistant-model",
                "kind": "model",
                "version": "1.1.0",
                "source": source,
                **component,
            }
        ],
        "environments": {"staging": {"manifest": {}}, "production": {"manifest": {}}},
        "criteria": [criterion],
    }
    root.mkdir(parents=True, exist_ok=True)
    path = root / "plan.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture
def ws(tmp_path: Path, database_url: str | None) -> Iterator[Workspace]:
    workspace = open_workspace(tmp_path / ".clearance", database_url)
    yield workspace
    workspace.close()


def client(ws: Workspace, store: Store, person: str | None = ADMIN) -> Any:
    me = acting(ws, person)
    me.settings = replace(me.settings, mlflow_tracking_uri=store.uri)
    return me


def auc_of(outcome: Any) -> Any:
    return next(r for r in outcome.evaluation.results if r.id == "auc")


def test_a_metric_read_from_mlflow_passes_and_is_kept_as_evidence(
    ws: Workspace, store: Store, tmp_path: Path
) -> None:
    me = client(ws, store)
    path = plan(
        tmp_path / "p",
        source="mlflow://models/helpdesk/2",
        metric="mlflow://models/helpdesk/2#holdout_auc",
    )
    outcome = me.check(me.plan(path))
    auc = auc_of(outcome)
    assert (outcome.evaluation.decision, auc.status.value, auc.observed) == ("GO", "passed", 0.88)
    with ws.blobs.open(auc.evidence[0]) as fh:
        kept = json.loads(fh.read())
    assert kept["value"] == 0.88 and kept["run_id"] == store.runs["v2"]
    assert kept["measured_on"][0]["digest"] == store.digests["helpdesk/2"]
    again = me.check(me.plan(path))
    assert auc_of(again).evidence == auc.evidence  # the same read is the same evidence


def test_the_component_takes_its_digest_from_the_registry(
    ws: Workspace, store: Store, tmp_path: Path
) -> None:
    me = client(ws, store)
    local = me.plan(
        plan(
            tmp_path / "p",
            source="mlflow://models/helpdesk@candidate",
            metric="mlflow://models/helpdesk/2#holdout_auc",
        )
    )
    assert me.digests(local) == {"assistant-model": store.digests["helpdesk/2"]}


def test_a_metric_measured_on_another_model_fails_naming_both_digests(
    ws: Workspace, store: Store, tmp_path: Path
) -> None:
    """Candidate helpdesk/2, metric of the run that logged helpdesk/1: not its metric."""
    me = client(ws, store)
    path = plan(
        tmp_path / "p",
        source="mlflow://models/helpdesk/2",
        metric="mlflow://models/helpdesk/1#holdout_auc",
    )
    auc = auc_of(me.check(me.plan(path)))
    assert auc.status.value == "failed"
    assert store.digests["helpdesk/1"] in auc.reason and store.digests["helpdesk/2"] in auc.reason
    assert "was measured on model" in auc.reason


def test_a_run_that_registered_no_model_cannot_vouch_for_one(
    ws: Workspace, store: Store, tmp_path: Path
) -> None:
    me = client(ws, store)
    run = store.runs["orphan"]
    path = plan(
        tmp_path / "p",
        source="mlflow://models/helpdesk/2",
        metric=f"mlflow://runs/{run}#holdout_auc",
    )
    auc = auc_of(me.check(me.plan(path)))
    assert auc.status.value == "failed" and "registered no model version" in auc.reason
    untied = plan(
        tmp_path / "q",
        source="mlflow://models/helpdesk/2",
        metric=f"mlflow://runs/{run}#holdout_auc",
        tie=False,
    )
    assert auc_of(me.check(me.plan(untied))).status.value == "passed"


def test_an_unknown_run_stops_the_check_with_the_criterion_named(
    ws: Workspace, store: Store, tmp_path: Path
) -> None:
    me = client(ws, store)
    path = plan(
        tmp_path / "p",
        source="mlflow://models/helpdesk/2",
        metric="mlflow://runs/ffff0000#holdout_auc",
    )
    with pytest.raises(EvidenceError, match="criterion auc: mlflow://runs/ffff0000"):
        me.check(me.plan(path))


# -- aliases ------------------------------------------------------------------------------


def alias_events(ws: Workspace) -> list[dict[str, Any]]:
    from clearance.store import repository as repo

    with ws.engine.connect() as conn:
        return [e.payload for e in repo.events(conn) if e.type == "registry.alias_moved"]


def production(store: Store, model: str) -> str | None:
    return MlflowReader(store.uri).alias_target(model, "production")


def test_a_release_moves_the_alias_and_a_rollback_moves_it_back(
    ws: Workspace, store: Store, tmp_path: Path
) -> None:
    model = store.fresh_model("a1", "a2")
    me = client(ws, store)
    first = plan(
        tmp_path / "v1",
        source=f"mlflow://models/{model}/1",
        metric=f"mlflow://models/{model}/1#holdout_auc",
        mlflow_alias="production",
        version="1.0.0",
    )
    second = plan(
        tmp_path / "v2",
        source=f"mlflow://models/{model}/2",
        metric=f"mlflow://models/{model}/2#holdout_auc",
        mlflow_alias="production",
        version="1.1.0",
    )
    done = me.release(me.plan(first))
    assert done.aliases == [
        {
            "component": "assistant-model",
            "model": model,
            "alias": "production",
            "version": "1",
            "previous": None,
        }
    ]
    assert production(store, model) == "1"
    me.release(client(ws, store).plan(second))
    assert production(store, model) == "2"
    back = client(ws, store).release(client(ws, store).plan(first))  # the rollback
    assert back.aliases[0]["version"] == "1" and back.aliases[0]["previous"] == "2"
    assert production(store, model) == "1"
    assert [(e["version"], e["previous"]) for e in alias_events(ws)] == [
        ("1", None),
        ("2", "1"),
        ("1", "2"),
    ]
    pack = tmp_path / "pack.zip"
    me.export(client(ws, store).plan(first), pack)
    with zipfile.ZipFile(pack) as z:
        releases = json.loads(z.read("releases.json"))
    assert [
        [(a["alias"], a["version"], a["previous"]) for a in r["registry_aliases"]] for r in releases
    ] == [
        [("production", "1", None)],
        [("production", "1", "2")],
    ]


def test_a_failed_alias_move_records_no_release_and_puts_back_what_moved(
    ws: Workspace, store: Store, tmp_path: Path
) -> None:
    """Two components move aliases; the second model is deleted from the registry after it
    was resolved, so its move fails: the first alias is put back and nothing is recorded."""
    from clearance.store import repository as repo

    model, router = store.fresh_model("a1", "a2"), store.fresh_model("r1")
    store.client().set_registered_model_alias(model, "production", "1")
    me = client(ws, store)
    path = plan(
        tmp_path / "p",
        source=f"mlflow://models/{model}/2",
        metric=f"mlflow://models/{model}/2#holdout_auc",
        mlflow_alias="production",
    )
    doc = yaml.safe_load(path.read_text())
    doc["components"].append(
        {
            "name": "router-model",
            "kind": "model",
            "version": "1.0.0",
            "source": f"mlflow://models/{router}/1",
            "mlflow_alias": "production",
        }
    )
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    local = me.plan(path)
    me.digests(local)  # both versions resolved and hashed
    store.client().delete_registered_model(router)
    with pytest.raises(
        EvidenceError, match=f"moving alias production of registered model {router}"
    ):
        me.release(local)
    assert production(store, model) == "1"  # moved to 2, then put back
    with ws.engine.connect() as conn:
        assert repo.all_releases(conn) == []
    assert alias_events(ws) == []


def test_a_retried_release_keeps_what_the_alias_was_before(store: Store) -> None:
    """A release transaction retried after a conflict moves the alias again: the version it
    pointed at before the command stays the one recorded and put back."""
    from clearance.integrations.mlflow import AliasMoves

    model = store.fresh_model("a1", "a2")
    store.client().set_registered_model_alias(model, "production", "1")
    moves = AliasMoves(MlflowReader(store.uri), {})
    assert moves.move(model, "production", "2") == "1"
    assert moves.move(model, "production", "2") == "1"  # the retry
    assert production(store, model) == "2"
    assert moves.undo() == [] and production(store, model) == "1"


def test_a_release_without_a_registry_mover_is_refused_before_anything(
    ws: Workspace, tmp_path: Path
) -> None:
    """What a release through a server gets (the server cannot reach the caller's MLflow)."""
    from clearance.services.aliases import require_mover
    from clearance.services.plans import read_plan

    path = plan(
        tmp_path / "p",
        source="mlflow://models/helpdesk/1",
        metric="mlflow://models/helpdesk/1#holdout_auc",
        mlflow_alias="production",
    )
    loaded = read_plan(ws, path.read_text(), str(path))
    with pytest.raises(UsageError, match="moves registry alias production on release"):
        require_mover(loaded, None)


# -- the command --------------------------------------------------------------------------


def test_check_and_release_through_the_command(
    store: Store, tmp_path: Path, database_url: str | None
) -> None:
    """MLFLOW_TRACKING_URI set as a user would; the metric shows in the check, and the
    release says it moved the alias."""
    from tests.cli.harness import invoke

    model = store.fresh_model("a1")
    env = {
        "CLEARANCE_HOME": str(tmp_path / "home"),
        "CLEARANCE_USER": "ops@example.com",
        "MLFLOW_TRACKING_URI": store.uri,
        "COLUMNS": "1000",
        **({"CLEARANCE_DATABASE_URL": database_url} if database_url else {}),
    }
    source = f"mlflow://models/{model}/1"
    plan(tmp_path, source=source, metric=f"{source}#holdout_auc", mlflow_alias="production")
    assert invoke(tmp_path, "init", env=env).returncode == 0
    assert invoke(tmp_path, "env", "declare", "production", env=env).returncode == 0
    checked = invoke(tmp_path, "check", "plan.yaml", "--format", "json", env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    auc = json.loads(checked.stdout)["criteria"][0]
    assert auc["observed"] == 0.9 and "holdout_auc is 0.9 in mlflow://models/" in auc["reason"]
    released = invoke(tmp_path, "release", "plan.yaml", env=env)
    assert released.returncode == 0, released.stdout + released.stderr
    assert f"moved MLflow alias production of {model} to version 1 (was not set)" in (
        released.stdout
    )
    unset = {k: v for k, v in env.items() if k != "MLFLOW_TRACKING_URI"}
    refused = invoke(tmp_path, "check", "plan.yaml", env=unset)
    assert refused.returncode == 2 and "MLFLOW_TRACKING_URI" in refused.stderr
    assert "Traceback" not in refused.stderr
