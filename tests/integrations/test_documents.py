"""Evidence documents parse by extension, and broken ones say where and what to do."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from clearance.errors import EvidenceError
from clearance.integrations import documents
from clearance.integrations.documents import MAX_NODES, parse_document


@pytest.mark.parametrize(
    ("name", "data", "expected"),
    [
        ("metrics.json", b'{"holdout": {"auc": 0.91}}', {"holdout": {"auc": 0.91}}),
        ("metrics.JSON", b"\xef\xbb\xbf[1, 2]", [1, 2]),
        ("metrics.yaml", b"holdout:\n  auc: 0.91\n", {"holdout": {"auc": 0.91}}),
        ("metrics.yml", b"- a\n- b\n", ["a", "b"]),
        ("empty.yaml", b"", None),
        ("dates.yaml", b"run: 2024-05-01\n", {"run": "2024-05-01"}),
        ("anchors.yaml", b"a: &x [1, 2]\nb: *x\n", {"a": [1, 2], "b": [1, 2]}),
        (
            "merge.yaml",
            b"base: &b {k: 1, z: 0}\nm: &m\n  <<: *b\n  z: 2\nn: *m\n",
            {"base": {"k": 1, "z": 0}, "m": {"k": 1, "z": 2}, "n": {"k": 1, "z": 2}},
        ),
        (
            "metrics.csv",
            b"\xef\xbb\xbfsegment,auc\r\nall,0.91\r\n\r\nyoung,0.88\r\n",
            [{"segment": "all", "auc": "0.91"}, {"segment": "young", "auc": "0.88"}],
        ),
        ("quoted.csv", b'a,b\n"x, y","line\nbreak"\n', [{"a": "x, y", "b": "line\nbreak"}]),
        ("empty.csv", b"", []),
        ("header-only.csv", b"a,b\n", []),
        ("metrics.txt", b'{"auc": 0.9}', {"auc": 0.9}),
        ("metrics", b"auc: 0.9\n", {"auc": 0.9}),
        ("flow.out", b"{auc: 0.9}", {"auc": 0.9}),
    ],
)
def test_parses_by_extension(name: str, data: bytes, expected: Any) -> None:
    assert parse_document(name, data) == expected


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("m.json", b'{"auc": 0.9,}', r"^m\.json:1:13: Expecting property name .*; fix the JSON"),
        ("m.json", b'{\n  "a": 1\n  "b": 2\n}', r"^m\.json:3:3: Expecting ',' delimiter"),
        ("m.json", b'{"a": 1, "a": 2}', r'^m\.json: duplicate key "a"; keep only one'),
        ("m.json", b"[1,\n\xff]", r"^m\.json:2:1: not UTF-8 text; save the file as UTF-8"),
        ("m.json", b"[" * 100_000, r"^m\.json: nested too deeply"),
        (
            "m.yaml",
            b"a: [1\nb: 2",
            r"^m\.yaml:2:2: while parsing a flow sequence, .*expected ',' or ']'",
        ),
        ("m.yaml", b"a: 1\nb: 2\na: 3\n", r'^m\.yaml:3:1: duplicate key "a"'),
        ("m.yaml", b"? [1]\n: 2\n", r"^m\.yaml:1:3: mapping keys must be plain values"),
        ("m.yaml", b"--- 1\n--- 2\n", r"^m\.yaml:2:1: expected a single document .*one document"),
        ("m.yaml", b"a: *nowhere\n", r"^m\.yaml:1:4: found undefined alias"),
        ("m.yaml", b"a: !!python/name:os.system x\n", r"^m\.yaml:1:4: .*remove the tag"),
        ("m.yaml", b"!!python/object:os.system {}\n", r"^m\.yaml:1:1: unsupported tag"),
        ("m.yaml", b"!!set {a}\n", r"^m\.yaml:1:1: unsupported tag"),
        ("m.yaml", b"a: !!omap [b: 1]\n", r"^m\.yaml:1:4: unsupported tag"),
        ("m.yaml", b"a: 1\nb: \x01\n", r"^m\.yaml:2:4: control character U\+0001"),
        ("m.yaml", b"a: \xc3(\n", r"^m\.yaml:1:4: not UTF-8 text"),
        ("m.yaml", b"[" * 5000, r"^m\.yaml(:1:\d+)?: .*(nested too deeply|nesting depth)"),
        ("m.yaml", b"a: " + b"[" * 120 + b"]" * 120, r"^m\.yaml:1:\d+: nested deeper than"),
        ("m.csv", b"a,b\n1,2\n3\n", r"^m\.csv:3: 1 fields where the header has 2"),
        ("m.csv", b"a,b\n1,2,3\n", r"^m\.csv:2: 3 fields where the header has 2"),
        ("m.csv", b"a,a\n1,2\n", r'^m\.csv:1: duplicate column "a"'),
        ("m.csv", b'a\n"x"y"\n\n"z\n', r"^m\.csv:2: .* expected after .*fix the quoting"),
        ("m.csv", b"a\n\xff\n", r"^m\.csv:2:1: not UTF-8 text"),
        ("m.txt", b'{"a": 1,', r"^m\.txt:1:9: Expecting property name"),
        ("m.txt", b"a: b: c\n", r"^m\.txt:1:5: mapping values .*neither JSON nor YAML"),
    ],
)
def test_broken_document_names_the_place_and_the_fix(name: str, data: bytes, message: str) -> None:
    with pytest.raises(EvidenceError, match=message) as raised:
        parse_document(name, data)
    assert raised.value.code == "invalid_evidence"


def test_yaml_alias_bomb_is_refused_quickly() -> None:
    """Nine levels of ten aliases would expand to a billion values; the budget stops it."""
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 10):
        refs = ", ".join([f"*a{level - 1}"] * 10)
        lines.append(f"a{level}: &a{level} [{refs}]")
    with pytest.raises(EvidenceError, match=f"more than {MAX_NODES:,} values.*YAML bomb"):
        parse_document("bomb.yaml", "\n".join(lines).encode())


def test_yaml_aliases_within_the_node_budget_are_accepted() -> None:
    """99,101 values once expanded: 1 mapping, a list of 1,000 and 98 aliases of it."""
    data = "a: &a [" + ", ".join(["1"] * 1000) + "]\nb: [" + ", ".join(["*a"] * 98) + "]\n"
    document = parse_document("big.yaml", data.encode())
    assert len(document["b"]) == 98 and document["b"][97] == [1] * 1000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"[" * 5000, r"^m\.yaml: nested too deeply to read; flatten the document"),
        (b"a: [1\nb: 2", r"^m\.yaml:2:2: while parsing a flow sequence, expected ',' or ']'"),
        (b"a: 1\nb: \x01\n", r"^m\.yaml:2:4: control character U\+0001"),
    ],
)
def test_pure_python_yaml_gives_the_same_kind_of_errors(
    monkeypatch: pytest.MonkeyPatch, data: bytes, message: str
) -> None:
    """Without libyaml, PyYAML's own loader is used; its errors are translated alike."""
    monkeypatch.setattr(documents, "_LOADER", yaml.SafeLoader)
    assert parse_document("m.yaml", b"a: &x [1]\nb: *x\n") == {"a": [1], "b": [1]}
    with pytest.raises(EvidenceError, match=message):
        parse_document("m.yaml", data)
