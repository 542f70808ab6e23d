"""The pack's CycloneDX 1.6 bill of materials (bom.cdx.json), built with cyclonedx-python-lib:
the release's components by digest, the model with a model card (the decision's metrics, the
interested parties' considerations), and each environment's packages as package URLs."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from clearance.core.plan import Plan
    from clearance.store.records import CandidateRecord, DecisionRecord, EvidenceRecord

_SERIALS = uuid.UUID("0b7e4f55-1c3a-4e0e-9a52-6f2d8c1b7e33")  # namespace of the serial numbers
_MANIFEST_LIMIT = 16 * 1024 * 1024  # a bigger "manifest" is not one; its packages are skipped
_MODEL = "machine-learning-model"


def environment_manifests(
    plan: Plan, evidence: Sequence[EvidenceRecord], open_blob: Callable[[str], IO[bytes]]
) -> dict[str, dict[str, Any] | None]:
    """Each declared environment's manifest: written inline, or the attached file the plan
    names (JSON or YAML); None when it is not attached or not a readable mapping."""
    import yaml

    manifests: dict[str, dict[str, Any] | None] = {}
    for name, env in plan.environments.items():
        if env.manifest is not None:
            manifests[name] = dict(env.manifest)
            continue
        found = _attached(evidence, env.file) if env.file else None
        content: Any = None
        if found is not None and found.size <= _MANIFEST_LIMIT:
            with open_blob(found.digest) as fh:
                try:
                    content = yaml.safe_load(fh.read())
                except (yaml.YAMLError, UnicodeDecodeError):
                    content = None
        manifests[name] = content if isinstance(content, dict) else None
    return manifests


def _attached(evidence: Sequence[EvidenceRecord], file: str) -> EvidenceRecord | None:
    exact = [e for e in evidence if e.name == file]
    same_name = [e for e in evidence if PurePosixPath(e.name).name == PurePosixPath(file).name]
    found = exact or same_name
    return found[-1] if found else None


def render_bom(
    *,
    plan: Plan,
    candidate: CandidateRecord,
    decision: DecisionRecord | None,
    manifests: Mapping[str, Mapping[str, Any] | None],
    at: datetime,
) -> bytes:
    """The CycloneDX 1.6 JSON of the release. The library has no model-card model yet, so
    the card is added to the model's component in its JSON output; the 1.6 schema, which
    the tests validate against, covers it."""
    from cyclonedx.model import HashAlgorithm, HashType, Property
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot6

    from clearance import __version__

    kinds = {
        "model": ComponentType.MACHINE_LEARNING_MODEL,
        "software": ComponentType.APPLICATION,
        "config": ComponentType.FILE,
        "data": ComponentType.DATA,
    }
    system = Component(
        type=ComponentType.APPLICATION,
        name=plan.system.id,
        version=plan.release.version,
        description=plan.system.purpose or plan.system.name,
        bom_ref=f"system:{plan.system.id}",
    )
    bom = Bom(serial_number=uuid.uuid5(_SERIALS, f"{candidate.digest}/{_time(at)}"))
    bom.metadata.timestamp = at.astimezone(UTC)
    bom.metadata.component = system
    bom.metadata.tools.components.add(
        Component(type=ComponentType.APPLICATION, name="clearance", version=__version__)
    )
    bom.metadata.properties.update(
        [
            Property(name="clearance:candidate", value=candidate.digest),
            Property(name="clearance:target", value=plan.release.target),
            Property(name="clearance:decision", value=decision.outcome if decision else "none"),
        ]
    )
    parts = []
    for pin in candidate.components:
        part = Component(
            type=kinds.get(pin.kind, ComponentType.FILE),
            name=pin.name,
            version=pin.version,
            bom_ref=f"component:{pin.name}",
            hashes=[
                HashType(alg=HashAlgorithm.SHA_256, content=pin.digest.removeprefix("sha256:"))
            ],
            properties=[
                Property(name="clearance:kind", value=pin.kind),
                Property(name="clearance:deployed", value="true" if pin.deploy else "false"),
            ],
        )
        bom.components.add(part)
        parts.append(part)
    for name, manifest in manifests.items():
        env = _environment(name, manifest, plan)
        bom.components.add(env)
        parts.append(env)
    bom.register_dependency(system, parts)
    document = json.loads(JsonV1Dot6(bom).output_as_string())
    for component in document.get("components", []):
        if component.get("type") == _MODEL:
            component["modelCard"] = _model_card(component["name"], plan, decision)
    return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


def _environment(name: str, manifest: Mapping[str, Any] | None, plan: Plan) -> Any:
    """An environment as a platform component, its packages nested as pypi package URLs."""
    from cyclonedx.model import Property
    from cyclonedx.model.component import Component, ComponentType
    from packageurl import PackageURL

    role = {plan.release.source: "source", plan.release.target: "target"}.get(name, "declared")
    properties = [Property(name="clearance:environment", value=role)]
    if manifest is None:
        properties.append(Property(name="clearance:manifest", value="not attached or unreadable"))
    found: Mapping[str, Any] = manifest or {}
    runtime = found.get("runtime")
    shown = [(k, found.get(k)) for k in ("hosting", "provider", "region", "exposure")]
    if isinstance(runtime, Mapping):
        shown += [(f"runtime.{k}", v) for k, v in runtime.items()]
    properties += [
        Property(name=f"clearance:{k}", value=str(v))
        for k, v in shown
        if isinstance(v, str | int | float) and str(v).strip()
    ]
    packages = [
        Component(
            type=ComponentType.LIBRARY,
            name=package,
            version=version,
            purl=PackageURL(type="pypi", name=package, version=version),
            bom_ref=f"environment:{name}:pkg:pypi/{package}@{version}",
        )
        for package, version in _packages(found.get("packages"))
    ]
    return Component(
        type=ComponentType.PLATFORM,
        name=name,
        bom_ref=f"environment:{name}",
        description=f"the {role} environment of this release" if role != "declared" else None,
        properties=properties,
        components=packages,
    )


def _packages(packages: Any) -> Iterator[tuple[str, str]]:
    """(name, version) of Python distributions as `env capture` records them, a mapping of
    name to version, or as `name==version` lines; names normalised as PEP 503 compares them."""
    pairs: list[tuple[str, str]] = []
    if isinstance(packages, Mapping):
        pairs = [(str(k), str(v)) for k, v in packages.items() if v is not None]
    elif isinstance(packages, list):
        pairs = [(n, v) for n, _, v in (str(p).partition("==") for p in packages) if v]
    seen = set()
    for name, version in sorted(pairs):
        key = re.sub(r"[-_.]+", "-", name.strip()).lower()
        if key and version.strip() and key not in seen:
            seen.add(key)
            yield key, version.strip()


def _model_card(component: str, plan: Plan, decision: DecisionRecord | None) -> dict[str, Any]:
    """The decision's metrics of the criteria that apply to this model, and the interested
    parties' impacts and considerations."""
    results = decision.results if decision else []
    metrics = {c.id: c for c in plan.criteria if c.kind == "metric"}
    performance: dict[str, str] = {}  # by metric: two criteria may read the same one
    properties = []
    for r in results:
        criterion = metrics.get(r["id"])
        if criterion is None or (criterion.applies_to and component not in criterion.applies_to):
            continue
        name = str(getattr(criterion, "metric", r["id"]))
        value = (decision.metrics if decision else {}).get(name, r.get("observed"))
        if isinstance(value, int | float) and not isinstance(value, bool):
            performance[name] = str(value)
        properties.append(
            {"name": f"clearance:criterion:{r['id']}", "value": f"{r['status']}: {r['reason']}"}
        )
    considerations: dict[str, Any] = {}
    if plan.system.purpose:
        considerations["useCases"] = [plan.system.purpose]
    assessments = [
        {
            k: v
            for k, v in (
                ("groupAtRisk", p.name),
                ("harms", p.impact),
                ("mitigationStrategy", p.consideration),
            )
            if v
        }
        for p in plan.interested_parties
    ]
    if assessments:
        considerations["fairnessAssessments"] = assessments
    card: dict[str, Any] = {}
    if performance:
        card["quantitativeAnalysis"] = {
            "performanceMetrics": [{"type": k, "value": v} for k, v in performance.items()]
        }
    if considerations:
        card["considerations"] = considerations
    if properties:
        card["properties"] = properties
    return card


def _time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat()
