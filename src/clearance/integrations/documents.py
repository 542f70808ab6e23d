"""Parse evidence documents (JSON, YAML, CSV) into plain data, or say where they are broken.

Errors read `name:line:column: what is wrong`, then what to do. YAML aliases are expanded
under a node budget, so a small "billion laughs" file cannot exhaust memory.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import PurePath
from typing import Any

import yaml

from clearance.errors import EvidenceError

MAX_NODES = 100_000
MAX_DEPTH = 100
_TIMESTAMP = "tag:yaml.org,2002:timestamp"
_MERGE = "tag:yaml.org,2002:merge"
# libyaml composes about ten times faster when PyYAML was built with it.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_JSON_HINT = "fix the JSON (a trailing comma or a missing quote is the usual cause)"
_YAML_SYNTAX_HINT = "fix the YAML (indentation and an unquoted ': ' are the usual causes)"
_CSV_HINT = "fix the CSV so that every row has the header's columns"


def parse_document(name: str, data: bytes) -> Any:
    """Parse `data` by the extension of `name`; unknown extensions are tried as JSON, then YAML."""
    suffix = PurePath(name).suffix.lower()
    if suffix == ".json":
        return _parse_json(name, data)
    if suffix in (".yaml", ".yml"):
        return _parse_yaml(name, data)
    if suffix == ".csv":
        return _parse_csv(name, data)
    try:
        return _parse_json(name, data)
    except EvidenceError as json_error:
        try:
            return _parse_yaml(name, data)
        except EvidenceError as yaml_error:
            if data.lstrip()[:1] in (b"{", b"["):
                raise json_error from None  # it was meant to be JSON: that error helps most
            raise EvidenceError(
                f"{yaml_error.message} (the file is neither JSON nor YAML; give it a .json, "
                ".yaml or .csv extension to say which it should be)"
            ) from yaml_error


def _where(name: str, line: int | None, column: int | None) -> str:
    if line is None:
        return name
    return f"{name}:{line}" if column is None else f"{name}:{line}:{column}"


def _decode(name: str, data: bytes) -> str:
    """UTF-8 text without a byte order mark, or an error saying on which line it is not."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise EvidenceError(
            f"{_where(name, line, column)}: not UTF-8 text; save the file as UTF-8"
        ) from exc


def _reject_duplicates(name: str, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise EvidenceError(f'{name}: duplicate key "{key}"; keep only one of them')
        data[key] = value
    return data


def _parse_json(name: str, data: bytes) -> Any:
    text = _decode(name, data)
    try:
        return json.loads(text, object_pairs_hook=lambda p: _reject_duplicates(name, p))
    except json.JSONDecodeError as exc:
        where = _where(name, exc.lineno, exc.colno)
        raise EvidenceError(f"{where}: {exc.msg}; {_JSON_HINT}") from exc
    except RecursionError as exc:
        raise EvidenceError(f"{name}: nested too deeply to read; flatten the document") from exc


class _Builder:
    """Python data from YAML nodes, counting every value as aliases are expanded."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.nodes = 0
        self._scalars = yaml.constructor.SafeConstructor()
        self._prepared: set[int] = set()  # nodes live as long as the builder: ids stay unique

    def refuse(self, node: yaml.Node, what: str) -> EvidenceError:
        mark = node.start_mark
        return EvidenceError(f"{_where(self.name, mark.line + 1, mark.column + 1)}: {what}")

    def _prepare(self, node: yaml.MappingNode) -> None:
        """Refuse duplicate or non-scalar keys, then apply "<<" merge keys, once per node."""
        if id(node) in self._prepared:
            return  # an alias of a mapping already merged in place
        seen = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise self.refuse(key_node, "mapping keys must be plain values")
            if key_node.tag == _MERGE:
                continue
            key = self._scalars.construct_object(key_node)
            if key in seen:
                raise self.refuse(key_node, f'duplicate key "{key}"; keep only one of them')
            seen.add(key)
        self._scalars.flatten_mapping(node)
        self._prepared.add(id(node))

    def build(self, node: yaml.Node, depth: int = 0) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise self.refuse(
                node,
                f"more than {MAX_NODES:,} values once aliases are expanded; refused "
                "(is this a YAML bomb?); write the values out or split the document",
            )
        if depth > MAX_DEPTH:
            raise self.refuse(node, f"nested deeper than {MAX_DEPTH} levels; refused")
        if isinstance(node, yaml.MappingNode):
            if node.tag != "tag:yaml.org,2002:map":
                raise self.refuse(node, f"unsupported tag {node.tag}; remove it")
            self._prepare(node)
            # After merging, explicit keys follow merged ones, so the last value wins.
            return {
                self._scalars.construct_object(key): self.build(value, depth + 1)
                for key, value in node.value
            }
        if isinstance(node, yaml.SequenceNode):
            if node.tag != "tag:yaml.org,2002:seq":
                raise self.refuse(node, f"unsupported tag {node.tag}; remove it")
            return [self.build(item, depth + 1) for item in node.value]
        if node.tag == _TIMESTAMP:
            return node.value  # the text written, so the data stays JSON-friendly
        return self._scalars.construct_object(node)


def _parse_yaml(name: str, data: bytes) -> Any:
    text = _decode(name, data)
    try:
        node = yaml.compose(text, Loader=_LOADER)
        return None if node is None else _Builder(name).build(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = (mark.line + 1, mark.column + 1) if mark else (None, None)
        what = ", ".join(part for part in (exc.context, exc.problem) if part) or "invalid YAML"
        raise EvidenceError(f"{_where(name, line, column)}: {what}; {_yaml_hint(exc)}") from exc
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        char = exc.character
        code = f"U+{char:04X}" if isinstance(char, int) else repr(char)
        raise EvidenceError(
            f"{_where(name, line, column)}: control character {code} is not allowed in YAML; "
            "remove it"
        ) from exc
    except RecursionError as exc:
        raise EvidenceError(f"{name}: nested too deeply to read; flatten the document") from exc


def _yaml_hint(exc: yaml.MarkedYAMLError) -> str:
    if isinstance(exc, yaml.constructor.ConstructorError):
        return "only plain YAML is accepted: remove the tag"
    if isinstance(exc, yaml.composer.ComposerError):
        return "keep one document per file and define every anchor (&name) before its alias"
    return _YAML_SYNTAX_HINT


def _parse_csv(name: str, data: bytes) -> list[dict[str, str]]:
    reader = csv.reader(io.StringIO(_decode(name, data), newline=""), strict=True)
    try:
        header = next(reader, None)
        if header is None:
            return []
        seen = set()
        for column in header:
            if column in seen:
                raise EvidenceError(
                    f'{_where(name, 1, None)}: duplicate column "{column}"; rename one of them'
                )
            seen.add(column)
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise EvidenceError(
                    f"{_where(name, reader.line_num, None)}: {len(row)} fields where the "
                    f"header has {len(header)}; {_CSV_HINT}"
                )
            rows.append(dict(zip(header, row, strict=True)))
        return rows
    except csv.Error as exc:
        raise EvidenceError(
            f"{_where(name, reader.line_num, None)}: {exc}; fix the quoting (a field with a "
            'quote, comma or line break is written in double quotes, its quotes doubled: "")'
        ) from exc
