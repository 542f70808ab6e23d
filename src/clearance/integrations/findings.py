"""Read scanner reports into a FindingsReport: SARIF 2.1.0 (Bandit, Semgrep, Checkov, CodeQL,
Trivy, ...), CycloneDX 1.4-1.6 vulnerability data and VEX (JSON or XML), and pip-audit's
JSON. The format is detected from the document itself.

Hostile reports get an EvidenceError naming the file and the place that is wrong, never a
traceback: JSON nested too deeply or holding numbers too long to read, XML with a DOCTYPE or
entities (parsed with defusedxml), more than MAX_FINDINGS findings, severities that are not
a known label, level or a score from 0 to 10. (The size limit for every parsed document is
applied before this module is called.)
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from clearance.core.findings import (
    Finding,
    FindingsReport,
    ReportFormat,
    Scan,
    Severity,
    SeverityError,
    from_label,
    from_level,
    from_score,
    normalise_path,
)
from clearance.errors import EvidenceError

MAX_FINDINGS = 100_000
MAX_COMPONENTS = 200_000
_SUPPRESSING_STATES = {"not_affected", "false_positive", "resolved", "resolved_with_pedigree"}
_SEVERITY_KEYS = ("severity", "issue_severity")
_NOT_FINDINGS = {"pass", "notApplicable"}
_AS_WRITTEN = "attach the report as the scanner wrote it"


def parse_findings(name: str, data: bytes, expected: ReportFormat | None = None) -> FindingsReport:
    """The findings of one report. `expected` forces the format instead of detecting it."""
    try:
        return _parse(name, data, expected)
    except RecursionError:
        raise EvidenceError(f"{name}: nested too deeply to read; {_AS_WRITTEN}") from None


def _parse(name: str, data: bytes, expected: ReportFormat | None) -> FindingsReport:
    text = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] == b"<":
        if expected not in (None, "cyclonedx"):
            raise EvidenceError(f"{name}: an XML document, not {expected}; {_AS_WRITTEN}")
        return _Reader(name).cyclonedx(_cyclonedx_xml(name, data))
    document = _json(name, data)
    found = expected or _detect(name, document)
    reader = _Reader(name)
    if found == "sarif":
        return reader.sarif(document)
    if found == "cyclonedx":
        return reader.cyclonedx(document)
    return reader.pip_audit(document)


def _json(name: str, data: bytes) -> Any:
    # the document parser of the metrics files: positions in errors, duplicate keys
    # refused, nesting too deep reported
    from clearance.integrations.documents import _parse_json

    try:
        return _parse_json(name, data)
    except ValueError as exc:  # e.g. an integer too long to convert, as CPython limits them
        raise EvidenceError(f"{name}: unreadable JSON ({exc}); {_AS_WRITTEN}") from None


def _detect(name: str, document: Any) -> ReportFormat:
    if isinstance(document, dict):
        schema = str(document.get("$schema", "")).casefold()
        if "runs" in document or "sarif" in schema:
            return "sarif"
        if document.get("bomFormat") == "CycloneDX":
            return "cyclonedx"
        if isinstance(document.get("dependencies"), list):
            return "pip-audit"
    head = document[:100] if isinstance(document, list) else []
    if (
        head
        and all(isinstance(d, dict) and "name" in d for d in head)
        and any("vulns" in d for d in head)
    ):
        return "pip-audit"  # pip-audit before 2.0 wrote the dependency list alone
    raise EvidenceError(
        f"{name}: not a scanner report this criterion reads: expected SARIF 2.1.0 (with "
        '"runs"), CycloneDX (with "bomFormat": "CycloneDX") or pip-audit JSON (with '
        '"dependencies"); attach the report as the scanner wrote it, or set format: in the plan'
    )


class _Reader:
    """Walks one document, keeping where it is so that every problem names its place."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.count = 0

    def fail(self, where: str, what: str) -> EvidenceError:
        return EvidenceError(f"{self.name}: {where}: {what}; {_AS_WRITTEN}")

    def add(self, found: list[Finding], finding: Finding) -> None:
        self.count += 1
        if self.count > MAX_FINDINGS:
            raise EvidenceError(
                f"{self.name}: more than {MAX_FINDINGS:,} findings; refused (is the report "
                "complete nonsense, or a scan of everything?); scan what is released, or "
                "split the report"
            )
        found.append(finding)

    # -- typed access ---------------------------------------------------------------------

    def obj(self, value: Any, where: str, required: bool = False) -> dict[str, Any]:
        if value is None and not required:
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, f"expected an object, got {_kind(value)}")
        return value

    def items(self, value: Any, where: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(where, f"expected a list, got {_kind(value)}")
        return value

    def text(self, value: Any, where: str, required: bool = False) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str):
            raise self.fail(where, f"expected text, got {_kind(value)}")
        return value

    def time(self, value: Any, where: str) -> datetime | None:
        text = self.text(value, where)
        if text is None:
            return None
        from clearance.core.evaluators._common import parse_moment

        moment = parse_moment(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        if moment is None:
            raise self.fail(where, f"{text[:40]!r} is not an ISO 8601 time")
        return moment

    def severity(self, where: str, read: Any, value: Any) -> Severity | None:
        try:
            result: Severity | None = read(value)
            return result
        except SeverityError as exc:
            raise self.fail(where, str(exc)) from None

    # -- SARIF ------------------------------------------------------------------------------

    def sarif(self, doc: Any) -> FindingsReport:
        doc = self.obj(doc, "the top level", required=True)
        version = doc.get("version")
        if version != "2.1.0":
            raise self.fail("version", f"SARIF version {version!r}; only 2.1.0 is read")
        scans: list[Scan] = []
        found: list[Finding] = []
        for r, run in enumerate(self.items(doc.get("runs"), "runs")):
            at = f"runs[{r}]"
            run = self.obj(run, at, required=True)
            tool = self.obj(run.get("tool"), f"{at}.tool", required=True)
            driver = self.obj(tool.get("driver"), f"{at}.tool.driver", required=True)
            tool_name = self.text(driver.get("name"), f"{at}.tool.driver.name", required=True)
            assert tool_name is not None
            version_text = self.text(
                driver.get("version") or driver.get("semanticVersion"), f"{at}.tool.driver.version"
            )
            rules = self._rules(run, driver, tool, at)
            artifacts = self.items(run.get("artifacts"), f"{at}.artifacts")
            scans.append(Scan(tool_name, version_text, self._run_time(run, at)))
            for i, result in enumerate(self.items(run.get("results"), f"{at}.results")):
                finding = self._result(result, f"{at}.results[{i}]", tool_name, rules, artifacts)
                if finding is not None:
                    self.add(found, finding)
        return FindingsReport("sarif", tuple(scans), tuple(found))

    def _rules(
        self, run: dict[str, Any], driver: dict[str, Any], tool: dict[str, Any], at: str
    ) -> dict[str | int, dict[str, Any]]:
        """Rules by id and by index (the driver's only: `ruleIndex` counts in it)."""
        rules: dict[str | int, dict[str, Any]] = {}
        components = [(driver, f"{at}.tool.driver")] + [
            (self.obj(e, f"{at}.tool.extensions[{j}]"), f"{at}.tool.extensions[{j}]")
            for j, e in enumerate(self.items(tool.get("extensions"), f"{at}.tool.extensions"))
        ]
        for c, (component, where) in enumerate(components):
            for k, rule in enumerate(self.items(component.get("rules"), f"{where}.rules")):
                rule = self.obj(rule, f"{where}.rules[{k}]", required=True)
                rule_id = rule.get("id")
                if isinstance(rule_id, str):
                    rules.setdefault(rule_id, rule)
                if c == 0:
                    rules[k] = rule
        return rules

    def _run_time(self, run: dict[str, Any], at: str) -> datetime | None:
        times = []
        for j, inv in enumerate(self.items(run.get("invocations"), f"{at}.invocations")):
            inv = self.obj(inv, f"{at}.invocations[{j}]", required=True)
            for key in ("endTimeUtc", "startTimeUtc"):
                moment = self.time(inv.get(key), f"{at}.invocations[{j}].{key}")
                if moment is not None:
                    times.append(moment)
                    break
        return min(times) if times else None

    def _result(
        self,
        result: Any,
        at: str,
        tool: str,
        rules: Mapping[str | int, dict[str, Any]],
        artifacts: list[Any],
    ) -> Finding | None:
        result = self.obj(result, at, required=True)
        kind = self.text(result.get("kind"), f"{at}.kind") or "fail"
        if kind in _NOT_FINDINGS or result.get("baselineState") == "absent":
            return None  # a check that passed, or a finding fixed since the baseline
        rule = self._rule_of(result, rules, at)
        rule_id = (
            self.text(result.get("ruleId"), f"{at}.ruleId")
            or self.text(self.obj(result.get("rule"), f"{at}.rule").get("id"), f"{at}.rule.id")
            or (rule.get("id") if isinstance(rule.get("id"), str) else None)
            or "(no rule id)"
        )
        message = self.obj(result.get("message"), f"{at}.message")
        text = self.text(message.get("text"), f"{at}.message.text") or self.text(
            message.get("markdown"), f"{at}.message.markdown"
        )
        if not text:
            short = self.obj(rule.get("shortDescription"), "rule.shortDescription")
            text = self.text(short.get("text"), f"{at}: its rule's shortDescription.text") or ""
        path, line = self._location(result, at, artifacts)
        return Finding(
            tool=tool,
            severity=self._sarif_severity(result, rule, kind, at),
            message=text,
            rule=rule_id,
            path=path,
            line=line,
            suppressed=self._suppressed(result, at),
        )

    def _rule_of(
        self, result: dict[str, Any], rules: Mapping[str | int, dict[str, Any]], at: str
    ) -> dict[str, Any]:
        index = result.get("ruleIndex")
        if index is not None:
            if isinstance(index, bool) or not isinstance(index, int) or index not in rules:
                raise self.fail(f"{at}.ruleIndex", f"{index!r} names no rule of the run")
            return rules[index]
        rule_id = result.get("ruleId")
        found = rules.get(rule_id) if isinstance(rule_id, str) else None
        return found or {}

    def _location(
        self, result: dict[str, Any], at: str, artifacts: list[Any]
    ) -> tuple[str | None, int | None]:
        locations = self.items(result.get("locations"), f"{at}.locations")
        if not locations:
            return None, None
        where = f"{at}.locations[0].physicalLocation"
        first = self.obj(locations[0], f"{at}.locations[0]", required=True)
        physical = self.obj(first.get("physicalLocation"), where)
        artifact = self.obj(physical.get("artifactLocation"), f"{where}.artifactLocation")
        uri = self.text(artifact.get("uri"), f"{where}.artifactLocation.uri")
        index = artifact.get("index")
        if uri is None and isinstance(index, int) and not isinstance(index, bool):
            if not 0 <= index < len(artifacts):
                raise self.fail(f"{where}.artifactLocation.index", f"{index} names no artifact")
            entry = self.obj(artifacts[index], f"artifacts[{index}]")
            location = self.obj(entry.get("location"), f"artifacts[{index}].location")
            uri = self.text(location.get("uri"), f"artifacts[{index}].location.uri")
        region = self.obj(physical.get("region"), f"{where}.region")
        line = region.get("startLine")
        if line is not None and (isinstance(line, bool) or not isinstance(line, int) or line < 1):
            raise self.fail(f"{where}.region.startLine", f"{line!r} is not a line number")
        path = normalise_path(unquote(uri)) if uri else None
        return path or None, line

    def _sarif_severity(
        self, result: dict[str, Any], rule: dict[str, Any], kind: str, at: str
    ) -> Severity | None:
        props = self.obj(result.get("properties"), f"{at}.properties")
        rule_props = self.obj(rule.get("properties"), f"{at}: its rule's properties")
        for where, bag in (
            (f"{at}.properties", props),
            (f"{at}: its rule's properties", rule_props),
        ):
            score = bag.get("security-severity")
            if score is not None:
                return self.severity(f"{where}.security-severity", from_score, score)
        for key in _SEVERITY_KEYS:
            label = props.get(key)
            if label is not None:
                return self.severity(f"{at}.properties.{key}", from_label, label)
        level = result.get("level")
        if level is not None:
            return self.severity(f"{at}.level", from_level, level)
        config = self.obj(rule.get("defaultConfiguration"), "rule.defaultConfiguration")
        default = config.get("level")
        if default is not None:
            return self.severity(
                f"{at}: its rule's defaultConfiguration.level", from_level, default
            )
        # SARIF: a result of kind fail without a level is a warning; other kinds are none
        return from_level("warning" if kind == "fail" else "none")

    def _suppressed(self, result: dict[str, Any], at: str) -> str | None:
        for j, s in enumerate(self.items(result.get("suppressions"), f"{at}.suppressions")):
            s = self.obj(s, f"{at}.suppressions[{j}]", required=True)
            status = s.get("status")
            if status in (None, "accepted"):  # absent means accepted (SARIF 3.35.3)
                kind = self.text(s.get("kind"), f"{at}.suppressions[{j}].kind") or "suppression"
                return f"SARIF {kind} suppression"
        return None

    # -- CycloneDX --------------------------------------------------------------------------

    def cyclonedx(self, doc: Any) -> FindingsReport:
        doc = self.obj(doc, "the top level", required=True)
        spec = str(doc.get("specVersion", ""))
        if spec not in ("1.4", "1.5", "1.6"):
            raise self.fail(
                "specVersion", f"CycloneDX {spec or 'without a version'}; 1.4 to 1.6 are read"
            )
        metadata = self.obj(doc.get("metadata"), "metadata")
        tools = self._cdx_tools(metadata.get("tools"))
        tool = tools[0].tool if tools else "CycloneDX"
        at = self.time(metadata.get("timestamp"), "metadata.timestamp")
        scans = tuple(Scan(t.tool, t.version, at) for t in tools) or (Scan(tool, None, at),)
        components = self._components(doc)
        found: list[Finding] = []
        for i, vuln in enumerate(self.items(doc.get("vulnerabilities"), "vulnerabilities")):
            where = f"vulnerabilities[{i}]"
            vuln = self.obj(vuln, where, required=True)
            ident = self.text(vuln.get("id"), f"{where}.id", required=True)
            assert ident is not None
            aliases = tuple(
                alias
                for j, ref in enumerate(self.items(vuln.get("references"), f"{where}.references"))
                if (alias := self.text(self.obj(ref, f"{where}.references[{j}]").get("id"), "id"))
            )
            severity = self._cdx_severity(vuln, where)
            analysis = self.obj(vuln.get("analysis"), f"{where}.analysis")
            state = self.text(analysis.get("state"), f"{where}.analysis.state")
            suppressed = f"VEX {state}" if state in _SUPPRESSING_STATES else None
            message = (
                self.text(vuln.get("description"), f"{where}.description")
                or self.text(vuln.get("detail"), f"{where}.detail")
                or ""
            )
            affects = self.items(vuln.get("affects"), f"{where}.affects") or [None]
            for j, affected in enumerate(affects):
                package, version = None, None
                if affected is not None:
                    affected = self.obj(affected, f"{where}.affects[{j}]", required=True)
                    ref = self.text(affected.get("ref"), f"{where}.affects[{j}].ref")
                    package, version = components.get(ref or "", (ref, None))
                self.add(
                    found,
                    Finding(
                        tool=tool,
                        severity=severity,
                        message=message,
                        vulnerability=ident,
                        aliases=aliases,
                        package=package,
                        version=version,
                        suppressed=suppressed,
                    ),
                )
        return FindingsReport("cyclonedx", scans, tuple(found))

    def _cdx_tools(self, tools: Any) -> list[Scan]:
        if isinstance(tools, dict):  # 1.5+: {components: [...], services: [...]}
            listed = [
                *self.items(tools.get("components"), "metadata.tools.components"),
                *self.items(tools.get("services"), "metadata.tools.services"),
            ]
        else:
            listed = self.items(tools, "metadata.tools")
        found = []
        for j, t in enumerate(listed):
            t = self.obj(t, f"metadata.tools[{j}]", required=True)
            name = self.text(t.get("name"), f"metadata.tools[{j}].name")
            if name:
                found.append(Scan(name, self.text(t.get("version"), "version")))
        return found

    def _components(self, doc: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
        """bom-ref -> (name, version) of every component, nested ones too."""
        found: dict[str, tuple[str, str | None]] = {}
        stack: list[tuple[Any, str]] = [(doc.get("components"), "components")]
        metadata = self.obj(doc.get("metadata"), "metadata")
        if metadata.get("component") is not None:
            stack.append(([metadata.get("component")], "metadata.component"))
        seen = 0
        while stack:
            listed, where = stack.pop()
            for j, c in enumerate(self.items(listed, where)):
                seen += 1
                if seen > MAX_COMPONENTS:
                    raise self.fail(where, f"more than {MAX_COMPONENTS:,} components; refused")
                c = self.obj(c, f"{where}[{j}]", required=True)
                ref = self.text(c.get("bom-ref"), f"{where}[{j}].bom-ref")
                name = self.text(c.get("name"), f"{where}[{j}].name") or ref or ""
                if ref:
                    found[ref] = (name, self.text(c.get("version"), f"{where}[{j}].version"))
                if c.get("components") is not None:
                    stack.append((c.get("components"), f"{where}[{j}].components"))
        return found

    def _cdx_severity(self, vuln: dict[str, Any], where: str) -> Severity | None:
        """The worst of the vulnerability's ratings; None when it has none (or only unknown)."""
        from clearance.core.findings import RANK

        found: list[Severity] = []
        for k, rating in enumerate(self.items(vuln.get("ratings"), f"{where}.ratings")):
            at = f"{where}.ratings[{k}]"
            rating = self.obj(rating, at, required=True)
            label, score = rating.get("severity"), rating.get("score")
            severity: Severity | None = None
            if label is not None:
                severity = self.severity(f"{at}.severity", from_label, label)
            if severity is None and score is not None:
                severity = self.severity(f"{at}.score", from_score, score)
            if severity is not None:
                found.append(severity)
        worst: Severity | None = None
        for candidate in found:
            if worst is None or RANK[candidate] < RANK[worst]:
                worst = candidate
        return worst

    # -- pip-audit --------------------------------------------------------------------------

    def pip_audit(self, doc: Any) -> FindingsReport:
        if isinstance(doc, list):
            dependencies, where = doc, "the top level"
        else:
            doc = self.obj(doc, "the top level", required=True)
            dependencies, where = (
                self.items(doc.get("dependencies"), "dependencies"),
                "dependencies",
            )
        found: list[Finding] = []
        for i, dep in enumerate(dependencies):
            at = f"{where}[{i}]"
            dep = self.obj(dep, at, required=True)
            name = self.text(dep.get("name"), f"{at}.name", required=True)
            version = self.text(dep.get("version"), f"{at}.version")
            for j, vuln in enumerate(self.items(dep.get("vulns"), f"{at}.vulns")):
                v_at = f"{at}.vulns[{j}]"
                vuln = self.obj(vuln, v_at, required=True)
                ident = self.text(vuln.get("id"), f"{v_at}.id", required=True)
                aliases = tuple(
                    self.text(a, f"{v_at}.aliases[{k}]", required=True) or ""
                    for k, a in enumerate(self.items(vuln.get("aliases"), f"{v_at}.aliases"))
                )
                fixes = [
                    self.text(f, f"{v_at}.fix_versions[{k}]", required=True) or ""
                    for k, f in enumerate(self.items(vuln.get("fix_versions"), "fix_versions"))
                ]
                message = self.text(vuln.get("description"), f"{v_at}.description") or ""
                if fixes:
                    message = f"fixed in {', '.join(fixes)}" + (f"; {message}" if message else "")
                self.add(
                    found,
                    Finding(
                        tool="pip-audit",
                        severity=None,  # pip-audit's JSON rates nothing
                        message=message,
                        vulnerability=ident,
                        aliases=aliases,
                        package=name,
                        version=version,
                    ),
                )
        return FindingsReport("pip-audit", (Scan("pip-audit"),), tuple(found))


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return {
        "dict": "an object",
        "list": "a list",
        "str": "text",
        "int": "a number",
        "float": "a number",
        "bool": "true/false",
    }.get(type(value).__name__, type(value).__name__)


# -- CycloneDX XML ----------------------------------------------------------------------------


def _cyclonedx_xml(name: str, data: bytes) -> dict[str, Any]:
    """A CycloneDX XML BOM as the JSON form's data (the parts this module reads). defusedxml
    refuses DTDs, entities and external references before anything expands."""
    import xml.etree.ElementTree as ElementTree

    import defusedxml.ElementTree as SafeTree
    from defusedxml import DefusedXmlException

    try:
        root = SafeTree.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise EvidenceError(
            f"{name}: the XML declares a DOCTYPE, entities or external references ({exc}), "
            "which CycloneDX never needs and which can hide an entity-expansion bomb; remove them"
        ) from None
    except ElementTree.ParseError as exc:
        line, column = exc.position
        raise EvidenceError(f"{name}:{line}:{column + 1}: malformed XML; {_AS_WRITTEN}") from None
    namespace, _, tag = root.tag.rpartition("}")
    if tag != "bom" or "cyclonedx.org/schema/bom/" not in namespace:
        raise EvidenceError(
            f"{name}: an XML document whose root is <{tag}>, not a CycloneDX <bom>; {_AS_WRITTEN}"
        )
    ns = namespace.lstrip("{")
    spec = ns.rsplit("/", 1)[-1]

    def q(path: str) -> str:
        return "/".join(f"{{{ns}}}{p}" for p in path.split("/"))

    def text(element: Any, path: str) -> str | None:
        found = element.find(q(path))
        return found.text.strip() if found is not None and found.text else None

    def component(c: Any) -> dict[str, Any]:
        return {
            "bom-ref": c.get("bom-ref"),
            "name": text(c, "name"),
            "version": text(c, "version"),
            "components": [component(n) for n in c.findall(q("components/component"))],
        }

    tools: list[dict[str, Any]] = [
        {"name": text(t, "name"), "version": text(t, "version")}
        for t in [
            *root.findall(q("metadata/tools/tool")),
            *root.findall(q("metadata/tools/components/component")),
        ]
    ]
    vulnerabilities = []
    for v in root.findall(q("vulnerabilities/vulnerability")):
        ratings = []
        for r in v.findall(q("ratings/rating")):
            score = text(r, "score")
            ratings.append({"severity": text(r, "severity"), "score": score})
        vulnerabilities.append(
            {
                "id": text(v, "id"),
                "references": [{"id": text(r, "id")} for r in v.findall(q("references/reference"))],
                "ratings": ratings,
                "description": text(v, "description"),
                "detail": text(v, "detail"),
                "analysis": {"state": text(v, "analysis/state")},
                "affects": [{"ref": text(t, "ref")} for t in v.findall(q("affects/target"))],
            }
        )
    return {
        "bomFormat": "CycloneDX",
        "specVersion": spec,
        "metadata": {"timestamp": text(root, "metadata/timestamp"), "tools": tools},
        "components": [component(c) for c in root.findall(q("components/component"))],
        "vulnerabilities": vulnerabilities,
    }
