"""The pack's views for other tools read back with those tools: report.pdf with pypdf, the OSCAL
assessment results with compliance-trestle, the CycloneDX ML-BOM with cyclonedx-python-lib's
strict 1.6 validator; and index.html links each evidence file by its own name."""

from __future__ import annotations

import csv
import hashlib
import io
import posixpath
from html.parser import HTMLParser
from pathlib import Path

import pytest

from clearance.exports.html import download_name, evidence_link
from clearance.exports.matrix import catalogue_requirements
from clearance.exports.packdoc import BOM, OSCAL_RESULTS, REPORT
from tests.exports.packfiles import PACKAGES, Extracted, released_pack_with_packages


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Extracted:
    return released_pack_with_packages(tmp_path_factory.mktemp("views"))


def matrix_statuses(made: Extracted) -> dict[str, str]:
    rows = csv.DictReader(io.StringIO(made.files["control-matrix.csv"].decode()))
    return {row["requirement"]: row["status"] for row in rows}


# -- report.pdf -------------------------------------------------------------------------------


def test_report_pdf_holds_what_index_html_shows(made: Extracted) -> None:
    """pypdf reads back the decision, the criteria, the evidence, the approvals, the control
    matrix and the signing key's fingerprint."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(made.files[REPORT]))
    text = "\n".join(page.extract_text() for page in reader.pages)
    squeezed = "".join(text.split())  # digests wrap across lines in narrow cells
    decision = made.json("decisions.json")[-1]
    assert decision["outcome"] == "GO"
    assert "Latest decision GO" in text
    for result in decision["criteria"]:
        assert result["id"] in text
    for item in made.json("evidence/index.json"):
        assert "".join(item["name"].split()) in squeezed
    for approval in made.json("approvals.json"):
        assert approval["person"] in squeezed
    for requirement in catalogue_requirements():
        assert requirement.id in squeezed
    assert hashlib.sha256(made.key).hexdigest() in squeezed
    assert reader.metadata is not None and reader.metadata.title.startswith("Audit pack:")


def test_report_pdf_links_only_inside_the_pack(made: Extracted) -> None:
    """The PDF's links are the pack's relative paths: nothing of the exporting machine."""
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(made.files[REPORT]))
    uris = [
        annotation.get_object()["/A"]["/URI"]
        for page in reader.pages
        for annotation in page.get("/Annots") or []
        if "/A" in annotation.get_object()
    ]
    assert uris
    assert all(uri in made.files for uri in uris), uris


# -- index.html: evidence by its own name ------------------------------------------------------


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            self._open = dict(attrs)
            self.links.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attrs, text = self.links[-1]
            self.links[-1] = (attrs, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a":
            self._open = None


def test_index_links_every_evidence_file_by_its_name(made: Extracted) -> None:
    parser = _Links()
    parser.feed(made.files["index.html"].decode())
    links = {attrs["href"]: (attrs.get("download"), text) for attrs, text in parser.links}
    for item in made.json("evidence/index.json"):
        download, text = links[item["file"]]
        assert text == item["name"]
        assert download == posixpath.basename(item["name"])
        assert item["file"] in made.files


@pytest.mark.parametrize(
    ("name", "saved"),
    [
        ("docs/uat-report.md", "uat-report.md"),
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system32\\drivers\\etc\\hosts", "hosts"),
        ("/absolute/path.txt", "path.txt"),
        ("..", "0123456789abcdef"),
        (".", "0123456789abcdef"),
        ("", "0123456789abcdef"),
        (".hidden", "hidden"),
        ('a<b>:"c|d?*.txt', "a_b___c_d__.txt"),
        ("line\nbreak\x00.md", "line_break_.md"),
    ],
)
def test_download_names_cannot_leave_the_folder(name: str, saved: str) -> None:
    assert download_name(name, "sha256:" + "0123456789abcdef" * 4) == saved


def test_evidence_link_escapes_the_name() -> None:
    link = evidence_link('<script>alert(1)</script>"x.md', "sha256:" + "ab" * 32)
    assert "<script>" not in link
    assert link.startswith(f'<a href="evidence/files/{"ab" * 32}" download="')


# -- OSCAL assessment results ------------------------------------------------------------------


@pytest.fixture(scope="module")
def oscal(made: Extracted):  # type: ignore[no-untyped-def]
    """The assessment results as compliance-trestle reads them from the extracted pack."""
    from trestle.oscal.assessment_results import AssessmentResults

    return AssessmentResults.oscal_read((made.folder / OSCAL_RESULTS).absolute())


def test_oscal_has_one_finding_per_control_requirement(made: Extracted, oscal) -> None:  # type: ignore[no-untyped-def]
    """Each requirement of the controls catalogue has a finding, satisfied exactly when the
    pack's control matrix says covered."""
    (result,) = oscal.results
    statuses = matrix_statuses(made)
    targets = {f.target.target_id: f for f in result.findings}
    assert sorted(targets) == sorted(r.id for r in catalogue_requirements())
    for requirement, finding in targets.items():
        state = finding.target.status.state.value
        assert state == ("satisfied" if statuses[requirement] == "covered" else "not-satisfied")
        assert finding.props[0].value == statuses[requirement]
    assert {"covered", "not covered"} <= set(statuses.values())  # both states are exercised
    controls = {
        c.control_id for c in result.reviewed_controls.control_selections[0].include_controls
    }
    assert {"A.6.2.5", "B.6.2.5"} <= controls


def test_oscal_back_matter_hashes_are_the_evidence_in_the_pack(made: Extracted, oscal) -> None:  # type: ignore[no-untyped-def]
    """Every evidence file is a back-matter resource whose rlink, resolved from the OSCAL file,
    is that file in the pack, with its sha256."""
    resources = {r.uuid: r for r in oscal.back_matter.resources}
    hashed = {}
    for resource in resources.values():
        (rlink,) = resource.rlinks
        target = posixpath.normpath(posixpath.join(posixpath.dirname(OSCAL_RESULTS), rlink.href))
        (digest,) = rlink.hashes
        assert digest.algorithm == "SHA-256"
        assert hashlib.sha256(made.files[target]).hexdigest() == digest.value
        hashed[target] = resource.uuid
    for item in made.json("evidence/index.json"):
        assert item["file"] in hashed
    assert any(name.startswith("signed/approvals/") for name in hashed)


def test_oscal_observations_cite_the_evidence_the_matrix_counts(made: Extracted, oscal) -> None:  # type: ignore[no-untyped-def]
    """Each requirement's observation cites, as back-matter resources, the evidence files the
    control matrix counts for it."""
    resources = {r.uuid: r.rlinks[0].href.removeprefix("../") for r in oscal.back_matter.resources}
    files = {item["digest"]: item["file"] for item in made.json("evidence/index.json")}
    findings = {f.target.target_id: f for f in oscal.results[0].findings}
    observations = {o.uuid: o for o in oscal.results[0].observations}
    rows = csv.DictReader(io.StringIO(made.files["control-matrix.csv"].decode()))
    checked = 0
    for row in rows:
        (related,) = findings[row["requirement"]].related_observations
        observation = observations[related.observation_uuid]
        cited = {resources[e.href.removeprefix("#")] for e in observation.relevant_evidence or []}
        counted = {files[d] for d in row["evidence"].split() if d in files}
        assert counted <= cited, row["requirement"]
        checked += len(counted)
    assert checked >= 4


def test_oscal_names_the_candidate_and_the_plan_revision(made: Extracted, oscal) -> None:  # type: ignore[no-untyped-def]
    candidate = made.json("candidate.json")
    props = {p.name: p.value for p in oscal.metadata.props}
    assert props["candidate"] == candidate["digest"]
    assert props["decision"] == "GO"
    revision = candidate["revision"].removeprefix("sha256:")
    assert oscal.import_ap.href == f"../plan/revisions/{revision}.json"


# -- CycloneDX ML-BOM --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bom(made: Extracted) -> dict:  # type: ignore[type-arg]
    return made.json(BOM)


def test_bom_validates_against_cyclonedx_1_6(made: Extracted) -> None:
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(made.files[BOM].decode())
    assert errors is None, errors


def test_bom_validator_refuses_a_broken_model_card(made: Extracted, bom: dict) -> None:  # type: ignore[type-arg]
    """The validator does check the model card the library cannot model."""
    import json

    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    model = next(c for c in bom["components"] if c["type"] == "machine-learning-model")
    broken = {**bom, "components": [{**model, "modelCard": {"metrics": []}}]}
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(json.dumps(broken)) is not None


def test_bom_model_has_a_model_card(made: Extracted, bom: dict) -> None:  # type: ignore[type-arg]
    """The model's component has its digest, the decision's metrics and the interested
    parties' considerations."""
    candidate = made.json("candidate.json")
    pins = {c["name"]: c for c in candidate["components"]}
    (model,) = [c for c in bom["components"] if c["type"] == "machine-learning-model"]
    assert model["name"] == "scorer"
    assert model["hashes"] == [
        {"alg": "SHA-256", "content": pins["scorer"]["digest"].removeprefix("sha256:")}
    ]
    card = model["modelCard"]
    metrics = made.json("decisions.json")[-1]["metrics"]
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [
        {"type": name, "value": str(value)} for name, value in metrics.items()
    ]
    (party,) = card["considerations"]["fairnessAssessments"]
    assert party == {
        "groupAtRisk": "Loan applicants",
        "harms": "Ranking affects review order",
        "mitigationStrategy": "Fairness criterion; human review retained",
    }
    assert bom["specVersion"] == "1.6"


def test_bom_lists_the_software_and_each_environments_packages_as_purls(bom: dict) -> None:  # type: ignore[type-arg]
    from packageurl import PackageURL

    by_name = {c["name"]: c for c in bom["components"]}
    assert by_name["scoring-api"]["type"] == "application"
    for env in ("staging", "production"):
        platform = by_name[env]
        assert platform["type"] == "platform"
        purls = [PackageURL.from_string(p["purl"]) for p in platform["components"]]
        assert {(p.type, p.name, p.version) for p in purls} == {
            ("pypi", "scikit-learn", "1.5.2"),
            ("pypi", "numpy", "2.1.0"),
            ("pypi", "typing-extensions", "4.12.2"),
        }
    assert len(PACKAGES) == 3
    refs = [c["bom-ref"] for c in bom["components"]] + [
        p["bom-ref"] for c in bom["components"] for p in c.get("components", [])
    ]
    assert len(refs) == len(set(refs))


def test_pack_verify_covers_the_new_files(made: Extracted) -> None:
    """The new files are in the signed manifest, and the pack still verifies."""
    import json

    from clearance.exports.pack import verify_pack

    listed = json.loads(made.files["manifest.json"])["files"]
    assert {REPORT, OSCAL_RESULTS, BOM, "VERIFY.md", "SHA256SUMS"} <= set(listed)
    assert verify_pack(made.zip, trusted={made.key}) == []
    assert verify_pack(Path(made.folder), trusted={made.key}) == []


def test_bom_without_a_decision_or_readable_manifests_still_validates() -> None:
    """A candidate never evaluated, one environment's manifest missing and another listing
    packages as `name==version` lines: still a valid BOM, saying what it lacks."""
    import json
    from datetime import UTC, datetime

    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    from clearance.core.plan import Plan
    from clearance.exports.bom import render_bom
    from clearance.store.records import CandidateRecord, ComponentPin
    from tests.builders import plan_document

    plan = Plan.model_validate(plan_document())
    at = datetime(2026, 11, 1, tzinfo=UTC)
    pins = (ComponentPin("scorer", "model", "2.4.0", "sha256:" + "cd" * 32, True),)
    candidate = CandidateRecord(
        "sha256:" + "ef" * 32, "sha256:" + "01" * 32, "s", "2.4.0", pins, "a", at
    )
    manifests = {"staging": None, "production": {"packages": ["Foo_Bar==1.0", "bad", "x=="]}}
    text = render_bom(plan=plan, candidate=candidate, decision=None, manifests=manifests, at=at)
    assert JsonStrictValidator(SchemaVersion.V1_6).validate_str(text.decode()) is None
    by_name = {c["name"]: c for c in json.loads(text)["components"]}
    assert [p["purl"] for p in by_name["production"]["components"]] == ["pkg:pypi/foo-bar@1.0"]
    assert {"name": "clearance:manifest", "value": "not attached or unreadable"} in by_name[
        "staging"
    ]["properties"]
    assert "quantitativeAnalysis" not in by_name["scorer"]["modelCard"]


def test_oscal_version_is_the_one_compliance_trestle_reads() -> None:
    """The document is written as plain JSON; it claims the OSCAL version of the models the
    tests read it back with (an upgrade of compliance-trestle shows up here)."""
    from trestle.oscal import OSCAL_VERSION as TRESTLE

    from clearance.exports.oscal import OSCAL_VERSION

    assert OSCAL_VERSION == TRESTLE
