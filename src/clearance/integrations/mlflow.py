"""MLflow, on the caller's side: metrics read from runs and registered model versions
(`mlflow://` sources) become JSON evidence documents, a registered model version's artifacts
give a component its digest, and a GO release moves a registered-model alias.

The evidence document records what was read (source, run, metric, value, step, time, model
version and, when asked, the digests of the models the run logged), so the gate stays
reproducible from the pack without MLflow. Identical reads give identical bytes (no read
time in it), so re-checking against an unchanged registry adds no evidence.

A model version's digest is taken over its artifact files, downloaded as the registry
serves them: `json_digest` (RFC 8785 canonical JSON, sha256) of
`{"files": [{"path": P, "sha256": H, "size": N}, ...]}`, one entry per regular file, `P`
its POSIX path relative to the artifact folder (a single-file artifact: its file name),
sorted by `P`; empty folders do not count. The same files give the same digest wherever
they are stored or downloaded.

mlflow (the `clearance[mlflow]` extra, mlflow-skinny) is imported only here, inside the
functions that need it, so `clearance --help` stays fast.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from clearance.core.sources import MlflowRef, parse_mlflow, parse_model_source
from clearance.errors import EvidenceError, UsageError

SNAPSHOT_KIND = "clearance/mlflow-metric/v1"


@dataclass(frozen=True)
class ModelVersion:
    """A registered model version as the registry resolved it, with its artifacts' digest."""

    name: str
    version: str
    run_id: str | None
    digest: str


@dataclass
class MlflowReader:
    """One command's view of one MLflow tracking server and registry: each model version
    is downloaded and hashed once, into a scratch folder removed with the reader."""

    tracking_uri: str | None
    scratch: tempfile.TemporaryDirectory[str] = field(
        default_factory=lambda: tempfile.TemporaryDirectory(prefix="clearance-mlflow-")
    )
    versions: dict[tuple[str, str], ModelVersion] = field(default_factory=dict)
    #: component source -> the version it resolved to in this command
    sources: dict[str, ModelVersion] = field(default_factory=dict)

    def client(self) -> Any:
        if not self.tracking_uri:
            raise UsageError(
                "the plan reads from MLflow (mlflow://...) but no tracking server is set; "
                "set MLFLOW_TRACKING_URI (or CLEARANCE_MLFLOW_TRACKING_URI)"
            )
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")  # never call home
        try:
            from mlflow import MlflowClient
        except ImportError:
            raise UsageError(
                "the plan reads from MLflow (mlflow://...); install the extra: "
                "pip install 'clearance[mlflow]'"
            ) from None
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    # -- metrics --------------------------------------------------------------------------

    def metric_document(self, uri: str, metric: str, with_models: bool) -> bytes:
        """The evidence document of one metric read from MLflow (canonical JSON bytes)."""
        ref = _parse(uri, parse_mlflow)
        key = ref.metric or metric
        client = self.client()
        document: dict[str, Any] = {"kind": SNAPSHOT_KIND, "source": uri}
        document["tracking_uri"] = _without_secrets(self.tracking_uri or "")
        if ref.kind == "model":
            found = self._version(client, ref, uri)
            run_id = found.run_id
            if run_id is None:
                raise EvidenceError(
                    f"{uri}: model version {found.name}/{found.version} names no run; register "
                    "it from the run that logged its metrics"
                )
            document["model_version"] = {"name": found.name, "version": found.version}
        else:
            run_id = ref.run_id
        assert run_id is not None
        history = self._history(client, run_id, key, uri)
        latest = max(history, key=lambda m: (m.step, m.timestamp))
        document.update(
            run_id=run_id,
            metric=key,
            value=latest.value,
            step=latest.step,
            timestamp=latest.timestamp,
        )
        if with_models:
            document["measured_on"] = [
                {"name": v.name, "version": v.version, "digest": self.digest(client, v)}
                for v in self._logged_by(client, run_id)
            ]
        return json.dumps(document, sort_keys=True, indent=2).encode() + b"\n"

    def _history(self, client: Any, run_id: str, key: str, uri: str) -> list[Any]:
        from mlflow.exceptions import MlflowException

        try:
            run = client.get_run(run_id)
            history = client.get_metric_history(run_id, key)
        except MlflowException as exc:
            raise EvidenceError(f"{uri}: {_said(exc)}") from None
        if not history:
            known = ", ".join(sorted(run.data.metrics)) or "none"
            raise EvidenceError(
                f'{uri}: run {run_id} logged no metric "{key}" (it logged: {known}); '
                "name a metric the run logged"
            )
        return list(history)

    def _logged_by(self, client: Any, run_id: str) -> list[ModelVersion]:
        """The registered model versions the run logged (what its metrics were measured on)."""
        found = client.search_model_versions(f"run_id = '{run_id}'")
        return [
            ModelVersion(v.name, str(v.version), v.run_id, "")
            for v in sorted(found, key=lambda v: (v.name, int(v.version)))
        ]

    # -- model versions -------------------------------------------------------------------

    def component(self, source: str) -> ModelVersion:
        """The registered model version a component's `source` names, with its digest."""
        if source in self.sources:
            return self.sources[source]
        ref = _parse(source, parse_model_source)
        client = self.client()
        found = self._version(client, ref, source)
        resolved = ModelVersion(found.name, found.version, found.run_id, self.digest(client, found))
        self.sources[source] = resolved
        return resolved

    def _version(self, client: Any, ref: MlflowRef, uri: str) -> ModelVersion:
        from mlflow.exceptions import MlflowException

        try:
            if ref.version is not None:
                mv = client.get_model_version(ref.name, ref.version)
            else:
                mv = client.get_model_version_by_alias(ref.name, ref.alias)
        except MlflowException as exc:
            raise EvidenceError(f"{uri}: {_said(exc)}") from None
        return ModelVersion(mv.name, str(mv.version), mv.run_id or None, "")

    def digest(self, client: Any, version: ModelVersion) -> str:
        """The digest of a model version's artifact files (see the module docstring)."""
        import mlflow.artifacts
        from mlflow.exceptions import MlflowException

        key = (version.name, version.version)
        if key in self.versions:
            return self.versions[key].digest
        where = Path(self.scratch.name) / f"{len(self.versions)}"
        try:
            uri = client.get_model_version_download_uri(version.name, version.version)
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=uri, dst_path=str(where), tracking_uri=self.tracking_uri
            )
        except MlflowException as exc:
            raise EvidenceError(
                f"model version {version.name}/{version.version}: its artifacts cannot be "
                f"downloaded: {_said(exc)}"
            ) from None
        digest = folder_digest(Path(local))
        self.versions[key] = ModelVersion(version.name, version.version, version.run_id, digest)
        return digest

    # -- aliases --------------------------------------------------------------------------

    def alias_target(self, name: str, alias: str) -> str | None:
        """The version an alias points to now, or None when it is not set."""
        from mlflow.exceptions import MlflowException

        try:
            aliases = self.client().get_registered_model(name).aliases or {}
        except MlflowException as exc:
            raise EvidenceError(f"registered model {name}: {_said(exc)}") from None
        found = aliases.get(alias)
        return None if found is None else str(found)

    def move_alias(self, name: str, alias: str, version: str | None) -> None:
        """Point `alias` of registered model `name` at `version` (None: remove it)."""
        from mlflow.exceptions import MlflowException

        client = self.client()
        try:
            if version is None:
                client.delete_registered_model_alias(name, alias)
            else:
                client.set_registered_model_alias(name, alias, version)
        except MlflowException as exc:
            raise EvidenceError(
                f"moving alias {alias} of registered model {name} to "
                f"{'nothing' if version is None else 'version ' + version} failed: {_said(exc)}"
            ) from None


def folder_digest(root: Path) -> str:
    """The digest of the regular files under `root` (or of `root` itself, a file)."""
    from clearance.blobs import file_digest
    from clearance.core.digest import json_digest

    if root.is_file():
        files = [(root.name, root)]
    else:
        files = sorted(
            ((p.relative_to(root).as_posix(), p) for p in root.rglob("*") if p.is_file()),
            key=lambda pair: pair[0].encode(),
        )
    if not files:
        raise EvidenceError(f"{root}: the model version has no artifact files to take a digest of")
    return json_digest(
        {
            "files": [
                {
                    "path": rel,
                    "sha256": file_digest(p).removeprefix("sha256:"),
                    "size": p.stat().st_size,
                }
                for rel, p in files
            ]
        }
    )


def _parse(uri: str, how: Any) -> MlflowRef:
    try:
        ref: MlflowRef = how(uri)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    return ref


def _said(exc: Exception) -> str:
    """MLflow's message without its stack of causes."""
    message = getattr(exc, "message", None) or str(exc)
    return str(message).splitlines()[0]


def _without_secrets(uri: str) -> str:
    """A tracking URI as evidence may show it: no user name, password or token."""
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


class AliasMoves:
    """Moves registered-model aliases for a release (`services.aliases.AliasMover`) and
    remembers each move, so that `undo` can put them back if the release is not recorded."""

    def __init__(self, reader: MlflowReader, sources: dict[str, str]) -> None:
        #: component -> (registered model, version), from the sources resolved this command
        self.resolved = {
            component: (found.name, found.version)
            for component, source in sources.items()
            if (found := reader.sources.get(source)) is not None
        }
        self.reader = reader
        #: (model, alias) -> the version it pointed at before this command moved it; a
        #: release retried after a conflict moves it again but keeps the first "before"
        self.before: dict[tuple[str, str], str | None] = {}

    def move(self, model: str, alias: str, version: str) -> str | None:
        key = (model, alias)
        if key in self.before:
            previous = self.before[key]
        else:
            try:
                previous = self.reader.alias_target(model, alias)
            except EvidenceError as exc:
                raise EvidenceError(
                    f"moving alias {alias} of registered model {model} to version {version} "
                    f"failed: {exc}"
                ) from None
        self.reader.move_alias(model, alias, version)
        self.before.setdefault(key, previous)  # only what did move is put back
        return previous

    def undo(self) -> list[str]:
        """Put back every alias moved, newest first; what could not be put back."""
        failed = []
        for (model, alias), previous in reversed(self.before.items()):
            try:
                self.reader.move_alias(model, alias, previous)
            except (EvidenceError, UsageError) as exc:
                failed.append(f"{alias} of {model} (was {previous or 'not set'}): {exc}")
        self.before.clear()
        return failed
