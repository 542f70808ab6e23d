"""Security and configuration findings as the findings criterion sees them, whatever scanner
wrote them: one severity scale, one shape per finding, and the rules that say which signed
acceptance covers which finding. Pure: no I/O (`integrations.findings` reads the reports).

Severity is normalised across formats:
- a score (SARIF `security-severity`, a CVSS base score): 9.0 and above critical, 7.0 high,
  4.0 medium, above 0 low, 0 info (the CVSS v3 bands GitHub code scanning also uses);
- a label, case-insensitive: critical, high, medium (or moderate), low, info (or
  informational, none, negligible, note); `unknown`, `undefined` and `unspecified` leave a
  finding unrated, and the criterion's `unrated:` says how it counts;
- a SARIF level: error is high, warning medium, note low, none info.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Severity = Literal["critical", "high", "medium", "low", "info"]
#: worst first
SEVERITIES: tuple[Severity, ...] = ("critical", "high", "medium", "low", "info")
RANK: dict[str, int] = {s: i for i, s in enumerate(SEVERITIES)}
ReportFormat = Literal["sarif", "cyclonedx", "pip-audit"]
REPORT_FORMATS: tuple[ReportFormat, ...] = ("sarif", "cyclonedx", "pip-audit")
Scope = Literal["rule", "vulnerability"]

_LABELS: dict[str, Severity | None] = {
    "critical": "critical",
    "high": "high",
    "medium": "medium",
    "moderate": "medium",
    "low": "low",
    "info": "info",
    "informational": "info",
    "information": "info",
    "none": "info",
    "negligible": "info",
    "note": "info",
    "unknown": None,
    "undefined": None,
    "unspecified": None,
}
_LEVELS: dict[str, Severity] = {"error": "high", "warning": "medium", "note": "low", "none": "info"}


class SeverityError(ValueError):
    """A severity that is not one of the known labels, levels or a score from 0 to 10."""


def from_score(score: object) -> Severity:
    """The band of a CVSS-style score from 0 to 10 (a number, or a number written as text)."""
    value: float | None = None
    if isinstance(score, bool):
        value = None
    elif isinstance(score, int | float):
        value = float(score)
    elif isinstance(score, str):
        try:
            value = float(score.strip())
        except ValueError:
            value = None
    if value is None or not math.isfinite(value) or not 0 <= value <= 10:
        raise SeverityError(f"{_shown(score)} is not a score from 0 to 10")
    if value >= 9.0:
        return "critical"
    if value >= 7.0:
        return "high"
    if value >= 4.0:
        return "medium"
    return "low" if value > 0 else "info"


def from_label(label: object) -> Severity | None:
    """A tool's own severity label; None for an explicit `unknown`."""
    if not isinstance(label, str) or label.strip().casefold() not in _LABELS:
        known = ", ".join(k for k in _LABELS)
        raise SeverityError(f"{_shown(label)} is not a severity (known: {known})")
    return _LABELS[label.strip().casefold()]


def from_level(level: object) -> Severity:
    """A SARIF result or rule level."""
    if not isinstance(level, str) or level not in _LEVELS:
        raise SeverityError(f"{_shown(level)} is not a SARIF level (error, warning, note, none)")
    return _LEVELS[level]


def _shown(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


@dataclass(frozen=True)
class Finding:
    """One finding of one scan: a rule matched at a location (code and configuration
    scanners), or a known vulnerability in a package (dependency scanners)."""

    tool: str
    severity: Severity | None  # None: the report gives none
    message: str
    rule: str | None = None
    path: str | None = None
    line: int | None = None
    vulnerability: str | None = None
    aliases: tuple[str, ...] = ()
    package: str | None = None
    version: str | None = None
    #: why the report itself does not count it (a SARIF suppression, a VEX analysis)
    suppressed: str | None = None

    @property
    def scope(self) -> Scope:
        return "vulnerability" if self.vulnerability is not None else "rule"

    @property
    def location(self) -> str:
        """`path:line`, `path`, or empty."""
        if self.path is None:
            return ""
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    @property
    def where(self) -> str:
        """What an acceptance names besides the rule or vulnerability: the location, or the
        package (with its version when the report gives one)."""
        if self.scope == "vulnerability":
            name = self.package or ""
            return f"{name}@{self.version}" if self.version else name
        return self.location

    @property
    def ident(self) -> str:
        return (self.vulnerability if self.scope == "vulnerability" else self.rule) or ""

    def describe(self) -> str:
        """`B301 at service/score.py:14` or `PYSEC-2024-1 in jinja2@3.1.2`."""
        if self.scope == "vulnerability":
            return f"{self.ident} in {self.where}" if self.where else self.ident
        return f"{self.ident} at {self.where}" if self.where else self.ident

    def baseline_key(self) -> str:
        """What identifies the finding across releases: the tool, rule and file (line numbers
        move with unrelated edits), or the vulnerability and the package's name (a fixed
        version is another release's business)."""
        if self.scope == "vulnerability":
            return f"vulnerability|{self.ident.casefold()}|{package_name(self.package or '')}"
        return f"rule|{self.tool.casefold()}|{self.ident}|{normalise_path(self.path or '')}"


@dataclass(frozen=True)
class Scan:
    """One scanner run in a report: the tool, its version and when it ran, if the report
    says so."""

    tool: str
    version: str | None = None
    at: datetime | None = None

    def label(self) -> str:
        return f"{self.tool} {self.version}" if self.version else self.tool


@dataclass(frozen=True)
class FindingsReport:
    """A scanner report reduced to what the findings criterion needs."""

    format: ReportFormat
    scans: tuple[Scan, ...]
    findings: tuple[Finding, ...] = field(default_factory=tuple)


# -- what an acceptance covers --------------------------------------------------------------


def normalise_path(path: str) -> str:
    """A report's file location as a relative path: no `file://`, no leading `./` or `/`,
    forward slashes."""
    text = path.strip().replace("\\", "/")
    text = re.sub(r"^file://[^/]*", "", text)
    parts = [p for p in text.split("/") if p not in ("", ".")]
    return "/".join(parts)


def package_name(name: str) -> str:
    """A package name compared the way Python packaging does (PEP 503): case and runs of
    `-`, `_` and `.` do not matter. Other ecosystems' names keep their characters."""
    return re.sub(r"[-_.]+", "-", name.strip()).casefold()


def split_location(text: str) -> tuple[str, int | None]:
    """`path:line` -> (path, line); a location without a line number -> (path, None)."""
    path, sep, line = text.strip().rpartition(":")
    if sep and line.isascii() and line.isdigit() and path:
        return normalise_path(path), int(line)
    return normalise_path(text), None


def split_package(text: str) -> tuple[str, str | None]:
    """`name@version` or `name==version` -> (name, version); `name` -> (name, None)."""
    given = text.strip()
    for sep in ("==", "@"):
        name, found, version = given.rpartition(sep) if sep == "@" else given.partition(sep)
        if found and name and version:
            return name.strip(), version.strip()
    return given, None


def _same_path(a: str, b: str) -> bool:
    """Equal, or one ends with the other on a folder boundary: reports name files relative
    to where the scanner ran, which need not be the plan's folder."""
    pa, pb = a.split("/"), b.split("/")
    n = min(len(pa), len(pb))
    return bool(a) and bool(b) and n > 0 and pa[-n:] == pb[-n:]


def covers(scope: Scope, ident: str, where: str, finding: Finding) -> bool:
    """Whether an acceptance of `ident` at `where` (rule + location, or vulnerability +
    package) is about exactly this finding."""
    if scope != finding.scope:
        return False
    if scope == "vulnerability":
        ids = {finding.ident.casefold(), *(a.casefold() for a in finding.aliases)}
        if ident.strip().casefold() not in ids:
            return False
        name, version = split_package(where)
        if package_name(name) != package_name(finding.package or ""):
            return False
        return version is None or version == (finding.version or "")
    if ident.strip() != finding.ident:
        return False
    path, line = split_location(where)
    return _same_path(path, normalise_path(finding.path or "")) and line == finding.line


def worst_first(findings: list[Finding], unrated: Severity) -> list[Finding]:
    """Findings ordered by severity (unrated ones where `unrated` puts them), stable."""
    return sorted(findings, key=lambda f: RANK[f.severity or unrated])
