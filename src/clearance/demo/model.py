"""The demo's model: a classifier on scikit-learn's bundled diabetes data, its holdout set
and its metrics. Fixed seeds and a fixed pickle protocol make every file reproducible.

scikit-learn is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

import csv
import io
import json
import pickle
from pathlib import Path
from typing import Any

FEATURES = ("age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6")
SPLIT_SEED = 2
MODEL_SEED = 0
HOLDOUT_SHARE = 0.3
PICKLE_PROTOCOL = 4

MODEL_FILE = "models/model.pkl"
HOLDOUT_FILE = "data/holdout.csv"
METRICS_FILE = "eval/metrics.json"


def train_and_evaluate(directory: Path) -> dict[str, Any]:
    """Train the classifier, write the model, the holdout set and the metrics under
    `directory`, and return the metrics (as written to eval/metrics.json)."""
    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_diabetes()
    features = np.asarray(data.data, dtype=float)
    # Binary label: disease progression after one year above the median of the cohort.
    labels = (data.target > np.median(data.target)).astype(int)
    sex = _sex_groups(features)
    x_train, x_holdout, y_train, y_holdout = train_test_split(
        features,
        labels,
        test_size=HOLDOUT_SHARE,
        random_state=SPLIT_SEED,
        # Stratify on label and sex together so both groups are in the holdout set.
        stratify=labels * 2 + sex,
    )
    model = Pipeline(
        [
            ("scale", StandardScaler()),
            ("classify", LogisticRegression(max_iter=1000, random_state=MODEL_SEED)),
        ]
    )
    model.fit(x_train, y_train)

    metrics = holdout_metrics(model, x_holdout, y_holdout)
    _write(directory / MODEL_FILE, pickle.dumps(model, protocol=PICKLE_PROTOCOL))
    _write(directory / HOLDOUT_FILE, _holdout_csv(x_holdout, y_holdout).encode())
    _write(directory / METRICS_FILE, metrics_json(metrics).encode())
    return metrics


def holdout_metrics(model: Any, features: Any, labels: Any) -> dict[str, Any]:
    """Accuracy, AUC and F1 on the holdout set, per sex group, and the gaps between groups."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    scores = model.predict_proba(features)[:, 1]
    predicted = model.predict(features)
    groups: dict[str, dict[str, Any]] = {}
    raw: dict[str, tuple[float, float]] = {}
    sex = _sex_groups(features)
    for value, name in ((0, "sex_a"), (1, "sex_b")):
        rows = sex == value
        accuracy = float(accuracy_score(labels[rows], predicted[rows]))
        auc = float(roc_auc_score(labels[rows], scores[rows]))
        raw[name] = (accuracy, auc)
        groups[name] = {"accuracy": _round(accuracy), "auc": _round(auc), "n": int(rows.sum())}
    return {
        "holdout": {
            "accuracy": _round(accuracy_score(labels, predicted)),
            "auc": _round(roc_auc_score(labels, scores)),
            "f1": _round(f1_score(labels, predicted)),
            "n": len(labels),
        },
        "groups": groups,
        "fairness": {
            "accuracy_gap": _round(abs(raw["sex_a"][0] - raw["sex_b"][0])),
            "auc_gap": _round(abs(raw["sex_a"][1] - raw["sex_b"][1])),
        },
    }


def metrics_json(metrics: dict[str, Any]) -> str:
    return json.dumps(metrics, indent=2, sort_keys=True) + "\n"


def load_holdout(directory: Path) -> tuple[Any, Any]:
    """The holdout features and labels as written by `train_and_evaluate`."""
    import numpy as np

    with (directory / HOLDOUT_FILE).open(newline="") as f:
        rows = list(csv.DictReader(f))
    features = np.array([[float(row[name]) for name in FEATURES] for row in rows])
    labels = np.array([int(row["label"]) for row in rows])
    return features, labels


def _sex_groups(features: Any) -> Any:
    # The bundled data is centred and scaled: sex takes two values, one below and one
    # above zero. Group a is the value below zero.
    return (features[:, FEATURES.index("sex")] > 0).astype(int)


def _holdout_csv(features: Any, labels: Any) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*FEATURES, "label"])
    for row, label in zip(features, labels, strict=True):
        # repr() of a float reads back to the identical float.
        writer.writerow([*(repr(float(v)) for v in row), int(label)])
    return buffer.getvalue()


def _round(value: Any) -> float:
    return round(float(value), 4)


def _write(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
