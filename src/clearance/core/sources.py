"""Evidence and artifacts a plan names in a model registry instead of as files: MLflow runs
and registered model versions, written as URIs.

    mlflow://runs/RUN_ID#metric            a metric of a run
    mlflow://models/NAME/VERSION#metric    a metric of the run that logged a model version
    mlflow://models/NAME@ALIAS#metric      the same, for the version an alias points to
    mlflow://models/NAME/VERSION           a component's artifacts (no metric)

NAME is percent-decoded, so a name holding `/`, `@` or `#` can still be written. Parsing
only: the client reads the registry (`integrations.mlflow`). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

SCHEME = "mlflow://"
_RUN = re.compile(r"runs/(?P<run>[0-9A-Za-z_-]+)")
_MODEL = re.compile(r"models/(?P<name>[^/@#]+)(?:/(?P<version>[0-9]+)|@(?P<alias>[^/@#]+))")
FORMS = (
    "mlflow://runs/RUN_ID#metric, mlflow://models/NAME/VERSION#metric or "
    "mlflow://models/NAME@ALIAS#metric"
)


@dataclass(frozen=True)
class MlflowRef:
    """A parsed `mlflow://` URI: a run, or a registered model version by number or alias,
    and the metric its fragment names (None when it names none)."""

    kind: Literal["run", "model"]
    run_id: str | None = None
    name: str | None = None
    version: str | None = None
    alias: str | None = None
    metric: str | None = None

    def model(self) -> str:
        """`NAME/VERSION` or `NAME@ALIAS`, as people read it."""
        return f"{self.name}/{self.version}" if self.version else f"{self.name}@{self.alias}"


def is_source(path: str) -> bool:
    """Whether a path the plan names is a registry URI rather than a file."""
    return path[: len(SCHEME)].lower() == SCHEME


def parse_mlflow(uri: str) -> MlflowRef:
    """The parts of an `mlflow://` URI; ValueError saying the forms accepted otherwise."""
    if not is_source(uri):
        raise ValueError(f"{uri} is not an mlflow:// URI; write {FORMS}")
    rest, _, fragment = uri[len(SCHEME) :].partition("#")
    metric = unquote(fragment).strip() or None
    if "#" in uri and metric is None:
        raise ValueError(f"{uri} has an empty #metric; name the metric after #")
    run = _RUN.fullmatch(rest)
    if run is not None:
        return MlflowRef("run", run_id=run["run"], metric=metric)
    model = _MODEL.fullmatch(rest)
    if model is not None:
        name = unquote(model["name"]).strip()
        if not name:
            raise ValueError(f"{uri} names no registered model; write {FORMS}")
        alias = unquote(model["alias"]) if model["alias"] else None
        return MlflowRef("model", name=name, version=model["version"], alias=alias, metric=metric)
    raise ValueError(f"{uri} is not a run or a registered model version; write {FORMS}")


def parse_model_source(uri: str) -> MlflowRef:
    """A component's `source`: a registered model version, by number or alias, no metric."""
    ref = parse_mlflow(uri)
    if ref.kind != "model" or ref.metric is not None:
        raise ValueError(
            f"{uri} is not a registered model version; write mlflow://models/NAME/VERSION "
            "or mlflow://models/NAME@ALIAS"
        )
    return ref
