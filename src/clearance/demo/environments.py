"""Staging and production manifests for the demo, and the acknowledgements the plan needs.

Staging is captured by `clearance env capture`, which cannot know where it runs (its
`hosting` is "unknown"); the demo records it as on-premises. Production is derived from
staging: same runtime and packages, hosted in the cloud.
"""

from __future__ import annotations

import importlib.metadata
import platform
import re
from copy import deepcopy
from typing import Any

import yaml

MUST_MATCH = ("runtime.python", "packages.scikit-learn")
STAGING_PLACE = {"hosting": "on-prem"}
PRODUCTION_PLACE = {"hosting": "cloud", "provider": "aws", "region": "eu-west-1"}
NOTES = {
    "hosting": "Validated on-premises, served from AWS. The model is a pinned pickle with "
    "the same Python and scikit-learn versions, so its scores do not depend on where it runs; "
    "the reference patients are re-scored after deploy to confirm it.",
    "provider": "AWS is covered by the hospital's data processing agreement (DPA-2024-07); "
    "the scoring service receives no patient identifiers.",
    "region": "eu-west-1 keeps patient data in the EU, as the data protection impact "
    "assessment requires.",
}
NAME_KEYS = ("name", "environment")


def complete_staging(captured: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Staging as the plan uses it: hosting recorded as on-premises, and any must-match key
    the capture left out filled from this interpreter. Returns the manifest and a note per
    key the demo filled in."""
    staging = deepcopy(captured)
    staging.update(STAGING_PLACE)
    filled = []
    for key, value in (
        ("runtime.python", platform.python_version()),
        ("packages.scikit-learn", importlib.metadata.version("scikit-learn")),
    ):
        if _get(staging, key) is None:
            _set(staging, key, value)
            filled.append(f"{key} was not captured; recorded {value} from this interpreter")
    return staging, filled


def production_from(staging: dict[str, Any]) -> dict[str, Any]:
    """Production: the staging manifest with the cloud place, renamed to production."""
    names = {
        k: "production" if staging[k] == "staging" else staging[k]
        for k in NAME_KEYS
        if k in staging
    }
    rest = {
        k: deepcopy(v) for k, v in staging.items() if k not in names and k not in PRODUCTION_PLACE
    }
    return {**names, **PRODUCTION_PLACE, **rest}


def production_yaml(production: dict[str, Any]) -> str:
    header = (
        "# Manifest of the production environment (written by `clearance demo`): the staging\n"
        "# manifest captured by `clearance env capture`, hosted in the cloud instead.\n"
    )
    return header + yaml.dump(
        production, Dumper=_ManifestDumper, sort_keys=False, allow_unicode=True
    )


def differences(source: dict[str, Any], target: dict[str, Any]) -> list[str]:
    """Dotted keys whose values differ, or that exist on one side only, in order."""
    left, right = _flatten(source), _flatten(target)
    keys = list(dict.fromkeys([*left, *right]))
    return [k for k in keys if left.get(k, _MISSING) != right.get(k, _MISSING)]


def acknowledgements(source: dict[str, Any], target: dict[str, Any]) -> dict[str, str]:
    """A note for every difference that is not a must-match key, so none goes unexplained."""
    notes: dict[str, str] = {}
    for key in differences(source, target):
        if any(key == m or key.startswith(m + ".") for m in MUST_MATCH):
            continue
        if key in NOTES:
            notes[key] = NOTES[key]
        elif key.split(".")[0] in NAME_KEYS:
            notes[key] = "The manifest's own name; not a property of the environment."
        else:
            left, right = _flatten(source).get(key), _flatten(target).get(key)
            notes[key] = (
                f"Differs between staging ({left}) and production ({right}); reviewed by "
                "the release owner, no effect on the model's scores."
            )
    return notes


_MISSING = object()
_VERSION_LIKE = re.compile(r"^[0-9][0-9A-Za-z.+!-]*$")


class _ManifestDumper(yaml.SafeDumper):
    """Writes version-like strings quoted ("3.11.7", "2.0"), as plans and manifests should."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = '"' if _VERSION_LIKE.match(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_ManifestDumper.add_representer(str, _represent_str)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(data, dict) and data:
        out: dict[str, Any] = {}
        for key, value in data.items():
            out.update(_flatten(value, f"{prefix}{key}."))
        return out
    return {prefix[:-1]: data} if prefix else {}


def _get(data: dict[str, Any], dotted: str) -> Any:
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value
