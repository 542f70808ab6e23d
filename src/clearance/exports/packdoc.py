"""The audit pack's files for checking it without Clearance: `VERIFY.md`, the procedure with
standard tools only, and `SHA256SUMS` for `sha256sum -c`; and the names of the pack's
files that other tools read."""

from __future__ import annotations

import re
from collections.abc import Mapping
from importlib import resources
from typing import Any

VERIFY = "VERIFY.md"
SUMS = "SHA256SUMS"
REPORT = "report.pdf"
OSCAL_RESULTS = "oscal/assessment-results.json"
BOM = "bom.cdx.json"
EVIDENCE_FILES = "evidence/files"
_TEMPLATE = "data/pack/VERIFY.md"
_FIELD = re.compile(r"\{\{(\w+)\}\}")
#: the two files SHA256SUMS cannot list: the manifest lists SHA256SUMS, the signature
#: covers the manifest (VERIFY.md checks them first, with openssl)
_SIGNED_ABOVE = ("manifest.json", "manifest.sig")


def evidence_path(digest: str) -> str:
    """Where evidence with `digest` ("sha256:<hex>") is stored in the pack."""
    return f"{EVIDENCE_FILES}/{digest.removeprefix('sha256:')}"


def sha256sums(manifest_files: Mapping[str, Mapping[str, Any]]) -> bytes:
    """`sha256sum` lines for every file the manifest lists (name -> {sha256, ...}), sorted by
    name; the names are the pack's own (digests and fixed names), which sha256sum reads as
    they are."""
    lines = []
    for name in sorted(manifest_files):
        if name in (SUMS, *_SIGNED_ABOVE):
            continue
        if "\n" in name or "\\" in name:  # sha256sum would escape them; the pack never has any
            raise ValueError(f"{name!r}: not a name SHA256SUMS can hold as it is")
        lines.append(f"{manifest_files[name]['sha256']}  {name}\n")
    return "".join(lines).encode()


def render_verify(**fields: str) -> bytes:
    """VERIFY.md with this pack's system, version, target, candidate, fingerprint, time and
    exporter filled in; every field the template names must be given."""
    template = (resources.files("clearance") / _TEMPLATE).read_text(encoding="utf-8")

    def fill(match: re.Match[str]) -> str:
        return str(fields[match.group(1)]).replace("\n", " ")

    return _FIELD.sub(fill, template).encode()
