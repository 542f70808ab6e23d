"""Revision and candidate digests: canonical, order-independent, sensitive to every byte."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clearance.core.digest import candidate_digest, canonical_json, revision_digest
from clearance.core.loader import parse_plan

_json = st.recursive(
    st.one_of(st.integers(-(2**53) + 1, 2**53 - 1), st.text(max_size=8), st.booleans(), st.none()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=15,
)


@given(st.dictionaries(st.text(max_size=6), _json, max_size=6))
def test_key_order_does_not_change_the_digest(doc: dict) -> None:
    reordered = dict(reversed(list(doc.items())))
    assert revision_digest(doc) == revision_digest(reordered)
    assert canonical_json(doc) == canonical_json(reordered)


@given(
    st.dictionaries(st.text(min_size=1, max_size=6), st.text(max_size=8), min_size=1, max_size=4),
    st.data(),
)
def test_any_component_change_gives_a_new_candidate(components: dict, data) -> None:
    doc = {"plan": 1}
    name = data.draw(st.sampled_from(sorted(components)))
    changed = {**components, name: components[name] + "x"}
    assert candidate_digest(doc, components) != candidate_digest(doc, changed)
    assert candidate_digest(doc, components).startswith("sha256:")


def test_formatting_and_comments_do_not_change_the_revision() -> None:
    flow = (
        "apiVersion: clearance/v1\nkind: DeploymentPlan\n"
        "system: {id: s, name: S, owner: o}\n"
        "release: {version: '1', source: a, target: b}\n"
        "components: [{name: m, kind: model, version: '1', digest: 'sha256:" + "0" * 64 + "'}]\n"
        "environments: {a: {}, b: {}}\n"
    )
    block = (
        "# the same plan, written out\napiVersion: clearance/v1\nkind: DeploymentPlan\n"
        "environments:\n  b: {}\n  a: {}\n"
        "system:\n  id: s\n  name: S\n  owner: o\n"
        "release:\n  version: '1'\n  source: a\n  target: b\n"
        "components:\n  - name: m\n    kind: model\n    version: '1'\n"
        "    digest: sha256:" + "0" * 64 + "\n    deploy: true\n"
    )
    a, b = parse_plan(flow, "a.yaml"), parse_plan(block, "b.yaml")
    assert revision_digest(a.document()) == revision_digest(b.document())


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.text(alphabet=st.characters(blacklist_categories=("Cs",))),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@given(_json_values)
def test_fast_canonical_json_is_rfc8785(value) -> None:
    """The fast path for float-free data gives exactly RFC 8785's bytes (keys with characters
    outside the BMP, where the two orders differ, take RFC 8785's path)."""
    import rfc8785

    assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"a": 1.5},
        {"\U0001f600": 1, "\uffff": 2},
        {"n": 2**53},
        {"s": '\x00\x1f\u2028"\\\u00e9\U0001f600'},
        [True, False, None, -(2**53) + 1],
    ],
)
def test_canonical_json_edge_cases_match_rfc8785(value) -> None:
    import rfc8785

    if isinstance(value, dict) and value.get("n") == 2**53:
        with pytest.raises(rfc8785.IntegerDomainError):
            canonical_json(value)
        return
    assert canonical_json(value) == rfc8785.dumps(value)
