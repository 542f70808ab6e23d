"""The environment evaluator: must_match keys equal, every other difference acknowledged."""

from __future__ import annotations

from typing import Any

import pytest
from core_testkit import evaluate, item

from clearance.core.evaluators.environment import covers, flatten
from clearance.core.results import Status

STAGING = {
    "hosting": "cloud",
    "region": "eu-west-1",
    "runtime": {"python": "3.11.7"},
    "packages": {"numpy": "1.26", "scikit-learn": "1.4"},
}
PROD_SAME_PY = {
    "hosting": "on-prem",
    "region": "eu-central",
    "runtime": {"python": "3.11.7"},
    "packages": {"numpy": "1.26", "scikit-learn": "1.4"},
}
ENV = {
    "id": "env",
    "kind": "environment",
    "must_match": ["runtime.python", "packages.scikit-learn"],
    "acknowledge": {"hosting": "same image on both", "region": "latency checked"},
}
EXPECTED = {
    "must_match": ["runtime.python", "packages.scikit-learn"],
    "acknowledged": ["hosting", "region"],
}


def inline(source: dict[str, Any], target: dict[str, Any]) -> dict[str, Any]:
    return {"environments": {"staging": {"manifest": source}, "production": {"manifest": target}}}


def files(source: str = "env/staging.yaml", target: str = "env/prod.yaml") -> dict[str, Any]:
    return {"environments": {"staging": {"file": source}, "production": {"file": target}}}


def diff(
    key: str, source: Any, target: Any, note: str | None = None, strict: bool = False
) -> dict[str, Any]:
    return {
        "key": key,
        "source": source,
        "target": target,
        "acknowledged": note,
        "must_match": strict,
    }


ACKED = [
    diff("hosting", "cloud", "on-prem", "same image on both"),
    diff("region", "eu-west-1", "eu-central", "latency checked"),
]

CASES = [
    pytest.param(
        ENV,
        inline(STAGING, PROD_SAME_PY),
        [],
        Status.PASSED,
        [
            "staging and production match on runtime.python, packages.scikit-learn",
            "2 acknowledged differences (hosting, region)",
        ],
        ACKED,
        id="differences-acknowledged",
    ),
    pytest.param(
        ENV,
        files(),
        [item("env/staging.yaml", STAGING), item("env/prod.yaml", PROD_SAME_PY)],
        Status.PASSED,
        ["match on"],
        ACKED,
        id="manifests-as-files",
    ),
    pytest.param(
        {**ENV, "acknowledge": {"hosting": "h", "region": "r", "packages": "pinned by image"}},
        inline(
            STAGING,
            {**PROD_SAME_PY, "packages": {"numpy": "2.0", "scikit-learn": "1.4", "pandas": "2.2"}},
        ),
        [],
        Status.PASSED,
        ["4 acknowledged differences"],
        [
            diff("hosting", "cloud", "on-prem", "h"),
            diff("packages.numpy", "1.26", "2.0", "pinned by image"),
            diff("packages.pandas", None, "2.2", "pinned by image"),
            diff("region", "eu-west-1", "eu-central", "r"),
        ],
        id="prefix-acknowledges-keys-below-it",
    ),
    pytest.param(
        ENV,
        inline(STAGING, {**PROD_SAME_PY, "runtime": {"python": "3.10.2"}}),
        [],
        Status.FAILED,
        [
            "must match on runtime.python, packages.scikit-learn but differ",
            "runtime.python: staging has '3.11.7', production has '3.10.2'",
        ],
        [*ACKED[:1], ACKED[1], diff("runtime.python", "3.11.7", "3.10.2", strict=True)],
        id="must-match-differs",
    ),
    pytest.param(
        {**ENV, "acknowledge": {**ENV["acknowledge"], "packages": "ignored"}},
        inline(STAGING, {**PROD_SAME_PY, "packages": {"numpy": "1.26"}}),
        [],
        Status.FAILED,
        ["packages.scikit-learn: staging has '1.4', production has nothing (absent)"],
        [*ACKED[:1], diff("packages.scikit-learn", "1.4", None, strict=True), ACKED[1]],
        id="must-match-missing-in-target-cannot-be-acknowledged",
    ),
    pytest.param(
        {**ENV, "must_match": ["accelerator"]},
        inline(STAGING, PROD_SAME_PY),
        [],
        Status.FAILED,
        ["accelerator: absent from both staging and production"],
        ACKED,
        id="must-match-absent-from-both",
    ),
    pytest.param(
        {**ENV, "must_match": ["packages"]},
        inline(STAGING, {**PROD_SAME_PY, "packages": {"numpy": "2.0", "scikit-learn": "1.4"}}),
        [],
        Status.FAILED,
        ["packages.numpy: staging has '1.26', production has '2.0'"],
        [ACKED[0], diff("packages.numpy", "1.26", "2.0", strict=True), ACKED[1]],
        id="must-match-prefix-covers-subtree",
    ),
    pytest.param(
        {**ENV, "acknowledge": {"hosting": "same image"}},
        inline(STAGING, PROD_SAME_PY),
        [],
        Status.PENDING,
        [
            "1 unacknowledged difference between staging and production",
            "region: staging has 'eu-west-1', production has 'eu-central'",
            "`acknowledge: {region: <note>}`",
        ],
        [
            diff("hosting", "cloud", "on-prem", "same image"),
            diff("region", "eu-west-1", "eu-central"),
        ],
        id="unacknowledged-difference",
    ),
    pytest.param(
        {**ENV, "must_match": [], "acknowledge": {}},
        inline({"gpu": ["a100", "a100"]}, {"gpu": ["t4"]}),
        [],
        Status.PENDING,
        ["gpu: staging has ['a100', 'a100'], production has ['t4']"],
        [diff("gpu", ["a100", "a100"], ["t4"])],
        id="lists-compared-as-values",
    ),
    pytest.param(
        ENV,
        files(),
        [item("env/staging.yaml", STAGING)],
        Status.PENDING,
        [
            "env/prod.yaml (the manifest of production) is not attached yet; attach it to "
            "this criterion",
        ],
        None,
        id="target-manifest-not-attached",
    ),
    pytest.param(
        ENV,
        {"environments": {"staging": {"manifest": STAGING}, "production": {}}},
        [],
        Status.PENDING,
        ["environment production has no manifest; write it under environments.production.manifest"],
        None,
        id="environment-without-manifest",
    ),
    pytest.param(
        {**ENV, "target": "edge"},
        inline(STAGING, STAGING),
        [],
        Status.PENDING,
        ['environment "edge" is not declared under environments'],
        None,
        id="undeclared-environment",
    ),
    pytest.param(
        ENV,
        files(),
        [
            item("env/staging.yaml", problem="mapping values are not allowed here"),
            item("env/prod.yaml", PROD_SAME_PY),
        ],
        Status.ERROR,
        ["env/staging.yaml could not be read: mapping values"],
        None,
        id="unreadable-manifest",
    ),
    pytest.param(
        ENV,
        files(),
        [item("env/staging.yaml", ["python", "3.11"]), item("env/prod.yaml", PROD_SAME_PY)],
        Status.ERROR,
        ["env/staging.yaml (the manifest of staging) is not a mapping"],
        None,
        id="manifest-of-wrong-shape",
    ),
]


@pytest.mark.parametrize(("criterion", "plan", "items", "status", "fragments", "observed"), CASES)
def test_environment(
    criterion: dict[str, Any],
    plan: dict[str, Any],
    items: list[Any],
    status: Status,
    fragments: list[str],
    observed: Any,
) -> None:
    """Each case yields its status, a reason with these fragments, and these differences."""
    result = evaluate(criterion, items, plan=plan)
    assert result.status is status, result.reason
    for fragment in fragments:
        assert fragment in result.reason
    assert result.observed == observed
    want = {
        "must_match": list(criterion["must_match"]),
        "acknowledged": sorted(criterion["acknowledge"]),
    }
    assert result.expected == want


def test_environment_cites_both_manifest_files() -> None:
    """Manifests read from files are cited; inline ones need no citation."""
    a, b = item("env/staging.yaml", STAGING), item("env/prod.yaml", PROD_SAME_PY)
    assert evaluate(ENV, [a, b], plan=files()).evidence == (a.digest, b.digest)
    assert evaluate(ENV, [], plan=inline(STAGING, PROD_SAME_PY)).evidence == ()


def test_flatten_makes_dotted_keys_and_keeps_lists_and_empty_maps() -> None:
    """Nested mappings become dotted keys; lists and empty mappings stay values."""
    assert flatten({"a": {"b": 1, "c": {"d": [1, 2]}}, "e": {}, 3: None}) == {
        "a.b": 1,
        "a.c.d": [1, 2],
        "e": {},
        "3": None,
    }


@pytest.mark.parametrize(
    ("prefix", "key", "covered"),
    [
        ("packages", "packages.numpy", True),
        ("packages", "packages", True),
        ("packages", "packages2.numpy", False),
        ("packages.numpy", "packages", False),
    ],
)
def test_acknowledge_covers_key_or_its_children_only(prefix: str, key: str, covered: bool) -> None:
    """A prefix covers a key only at a dot boundary."""
    assert covers(prefix, key) is covered
