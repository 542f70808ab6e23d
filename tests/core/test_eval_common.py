"""Shared evaluator pieces: dotted-path lookup, number formatting, times, named files."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from itertools import combinations, pairwise
from typing import Any

import pytest
from core_testkit import item
from hypothesis import given
from hypothesis import strategies as st

from clearance.core.criteria import KINDS
from clearance.core.evaluators import EVALUATORS, evaluator
from clearance.core.evaluators._common import (
    PathFound,
    PathMissing,
    find_named,
    fmt_age,
    fmt_number,
    fmt_pair,
    jsonable,
    lookup,
    parse_moment,
    plain_number,
    to_number,
)


def test_every_kind_has_an_evaluator() -> None:
    """Each criterion kind the plan model knows has exactly one registered evaluator."""
    assert set(EVALUATORS) == set(KINDS)


def test_registering_a_kind_twice_is_refused() -> None:
    """A second evaluator for a kind is a programming error, caught at import."""
    with pytest.raises(ValueError, match="already registered"):
        evaluator("metric")(EVALUATORS["metric"])


# --- dotted paths ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "path", "value"),
    [
        ({"a": {"b": 1}}, "a.b", 1),
        ({"a.b": 1, "a": {"b": 2}}, "a.b", 1),
        ({"a.b": {"c": 1}, "a": {"b": {"d": 2}}}, "a.b.d", 2),
        ({"a": [{"b": 1}, {"b": 2}]}, "a.1.b", 2),
        ([10, 20], "1", 20),
        ({1: {"x": 3}}, "1.x", 3),
        ({"": 5}, "", 5),
    ],
)
def test_lookup_finds(data: Any, path: str, value: Any) -> None:
    """Keys may hold dots (longest first, shorter as fallback); digits index lists."""
    assert lookup(data, path) == PathFound(value)


@pytest.mark.parametrize(
    ("data", "path", "description"),
    [
        ({"a": {"b": 1}}, "a.c", '"a" has no key "c" (keys there: b)'),
        ({}, "a", 'the top level has no key "a" (keys there: none)'),
        ({"a": [1]}, "a.-1", '"a" is a list; "-1" is not an index of it (0 to 0)'),
        ({"a": []}, "a.0", '"a" is a list; "0" is not an index of it (it is empty)'),
        ({"a": "text"}, "a.b", '"a" is a string, not a mapping, so it has no "b"'),
        ({"a": None}, "a.b", '"a" is a null, not a mapping, so it has no "b"'),
        ({"a.b": {"x": 1}, "a": {"b": {"c": {}}}}, "a.b.c.d", '"a.b.c" has no key "d"'),
        ({f"k{i}": i for i in range(25)}, "z", "and 5 more"),
    ],
)
def test_lookup_explains_where_it_stopped(data: Any, path: str, description: str) -> None:
    """A failed lookup says how far it got and what exists there (deepest attempt wins)."""
    missing = lookup(data, path)
    assert isinstance(missing, PathMissing)
    assert description in missing.describe()


leaves = st.one_of(st.integers(), st.floats(allow_nan=False), st.text(max_size=3), st.none())
plain_keys = st.text(alphabet="abc01", min_size=1, max_size=3)
trees = st.recursive(
    leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(plain_keys, inner, max_size=3)
    ),
    max_leaves=12,
)


@given(tree=trees, data=st.data())
def test_lookup_follows_any_path_through_dotless_keys(tree: Any, data: st.DataObject) -> None:
    """Walking a random path through nested mappings and lists and joining it with dots,
    lookup returns exactly the value reached."""
    node, path = tree, []
    while isinstance(node, dict | list) and node and data.draw(st.booleans()):
        if isinstance(node, dict):
            key = data.draw(st.sampled_from(sorted(node)))
        else:
            key = str(data.draw(st.integers(0, len(node) - 1)))
        path.append(key)
        node = node[key] if isinstance(node, dict) else node[int(key)]
    if path:
        assert lookup(tree, ".".join(path)) == PathFound(node)


def segmentations(segments: list[str]) -> list[list[str]]:
    """Every way of grouping consecutive segments into keys."""
    n = len(segments)
    result = []
    for k in range(n):
        for cuts in combinations(range(1, n), k):
            bounds = [0, *cuts, n]
            result.append([".".join(segments[a:b]) for a, b in pairwise(bounds)])
    return result


def follow(data: Any, keys: list[str]) -> tuple[bool, Any]:
    node = data
    for key in keys:
        if isinstance(node, dict) and key in node:
            node = node[key]
        elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
            node = node[int(key)]
        else:
            return False, None
    return True, node


dotted_keys = st.text(alphabet="ab.", min_size=1, max_size=4).filter(
    lambda k: not k.startswith(".") and not k.endswith(".") and ".." not in k
)
dotted_trees = st.recursive(
    st.integers(), lambda inner: st.dictionaries(dotted_keys, inner, max_size=4), max_leaves=10
)


@given(tree=dotted_trees, path=st.lists(st.sampled_from(["a", "b"]), min_size=1, max_size=4))
def test_lookup_with_dotted_keys_agrees_with_every_segmentation(tree: Any, path: list[str]) -> None:
    """Lookup finds a value exactly when some grouping of the segments into keys leads to
    one, and what it finds is what one of those groupings reaches."""
    reachable = [v for ok, v in (follow(tree, keys) for keys in segmentations(path)) if ok]
    found = lookup(tree, ".".join(path))
    if reachable:
        assert isinstance(found, PathFound)
        assert any(found.value is v for v in reachable)
    else:
        assert isinstance(found, PathMissing)
        assert 0 <= found.depth < len(path)


# --- numbers, times, names ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "number"),
    [
        (3, 3),
        (0.5, 0.5),
        ("0.91", 0.91),
        (" 42 ", 42),
        ("1e-3", 0.001),
        (True, None),
        ("n/a", None),
        ("nan", None),
        (float("inf"), None),
        (None, None),
        ([], None),
    ],
)
def test_to_number(raw: Any, number: Any) -> None:
    """Numbers and numeric strings are numbers; booleans, NaN, infinity and text are not."""
    assert to_number(raw) == number


@pytest.mark.parametrize(
    ("x", "text"),
    [
        (0.85, "0.85"),
        (0.123456, "0.1235"),
        (12345.678, "12346"),
        (1.5, "1.5"),
        (2.0, "2"),
        (10, "10"),
        (0.000012345, "1.234e-05"),
        (12.3456, "12.35"),
    ],
)
def test_fmt_number_rounds_to_four_significant_digits(x: float, text: str) -> None:
    """Reasons show four significant digits, whole numbers whole."""
    assert fmt_number(x) == text


@given(a=st.floats(-1e6, 1e6, allow_nan=False), b=st.floats(-1e6, 1e6, allow_nan=False))
def test_fmt_pair_never_shows_different_numbers_as_equal(a: float, b: float) -> None:
    """Two numbers that differ are never printed the same way side by side."""
    sa, sb = fmt_pair(a, b)
    assert (sa == sb) is (a == b)


def test_plain_number_removes_float_noise() -> None:
    """Computed differences are shown without binary noise, and stay JSON numbers."""
    assert plain_number(0.86 - 0.84) == 0.02
    assert plain_number(3.0) == 3
    assert json.dumps(plain_number(1 / 3)) == "0.333333333333"


@pytest.mark.parametrize(
    ("raw", "moment"),
    [
        ("2024-05-01", datetime(2024, 5, 1, tzinfo=UTC)),
        ("2024-05-01T10:00:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T10:00:00Z", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("2024-05-01T12:00:00+02:00", datetime(2024, 5, 1, 10, tzinfo=UTC)),
        (date(2024, 5, 1), datetime(2024, 5, 1, tzinfo=UTC)),
        (datetime(2024, 5, 1, 10), datetime(2024, 5, 1, 10, tzinfo=UTC)),
        ("May 1st", None),
        ("2024-13-01", None),
        (20240501, None),
        (None, None),
    ],
)
def test_parse_moment(raw: Any, moment: datetime | None) -> None:
    """ISO dates and datetimes are read as aware datetimes, naive ones as UTC."""
    assert parse_moment(raw) == moment


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (86400 * 45, "45 days"),
        (86400 * 61.5, "61.5 days"),
        (86400, "1 day"),
        (3600 * 5, "5 hours"),
        (600, "10 min"),
    ],
)
def test_fmt_age(seconds: float, text: str) -> None:
    """Ages read naturally, with a decimal where it matters."""
    assert fmt_age(seconds) == text


@pytest.mark.parametrize(
    ("names", "path", "found"),
    [
        (["eval/metrics.json"], "eval/metrics.json", "eval/metrics.json"),
        (["./eval/metrics.json"], "eval/metrics.json", "./eval/metrics.json"),
        (["eval\\metrics.json"], "eval/metrics.json", "eval\\metrics.json"),
        (["metrics.json"], "eval/metrics.json", "metrics.json"),
        (["/ci/work/eval/metrics.json"], "eval/metrics.json", "/ci/work/eval/metrics.json"),
        (["a/metrics.json", "b/metrics.json"], "metrics.json", None),
        (["metrics.json", "eval/metrics.json"], "eval/metrics.json", "eval/metrics.json"),
        (["other.json"], "eval/metrics.json", None),
        (["eval/metrics.json.bak"], "eval/metrics.json", None),
    ],
)
def test_find_named(names: list[str], path: str, found: str | None) -> None:
    """An item matches the plan's path exactly, else as the only one sharing its tail."""
    match = find_named([item(n) for n in names], path)
    assert (match.name if match else None) == found


def test_jsonable_turns_anything_into_json_data() -> None:
    """Dates, tuples, NaN and odd keys become plain JSON data."""
    value = {1: (date(2024, 1, 2), float("nan")), "s": {1, 2} and "set"}
    assert json.loads(json.dumps(jsonable(value))) == {"1": ["2024-01-02", "nan"], "s": "set"}
