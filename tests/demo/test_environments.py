"""Staging and production manifests of the demo and the differences between them."""

from datetime import date

import pytest
import yaml

from clearance.demo import environments
from clearance.demo.files import dated, rehearsal_record

CAPTURED = {
    "name": "staging",
    "hosting": "unknown",
    "runtime": {"python": "3.11.7"},
    "packages": {"scikit-learn": "1.5.2", "numpy": "2.0"},
}


def test_staging_is_recorded_on_prem_without_changing_the_capture():
    staging, filled = environments.complete_staging(CAPTURED)
    assert staging["hosting"] == "on-prem"
    assert CAPTURED["hosting"] == "unknown"
    assert filled == []


def test_must_match_keys_missing_from_the_capture_are_filled_and_reported():
    staging, filled = environments.complete_staging({"hosting": "unknown"})
    assert staging["runtime"]["python"]
    assert staging["packages"]["scikit-learn"]
    assert len(filled) == 2


def test_production_keeps_runtime_and_packages_and_moves_to_the_cloud():
    staging, _ = environments.complete_staging(CAPTURED)
    production = environments.production_from(staging)
    assert production["runtime"] == staging["runtime"]
    assert production["packages"] == staging["packages"]
    assert (production["hosting"], production["provider"], production["region"]) == (
        "cloud", "aws", "eu-west-1",
    )  # fmt: skip
    assert production["name"] == "production"


def test_production_yaml_reads_back_with_versions_as_strings():
    staging, _ = environments.complete_staging(CAPTURED)
    production = environments.production_from(staging)
    text = environments.production_yaml(production)
    assert yaml.safe_load(text) == production
    assert 'numpy: "2.0"' in text


def test_differences_cover_changed_added_and_removed_keys():
    a = {"x": 1, "n": {"p": 1, "q": 2}, "gone": True}
    b = {"x": 1, "n": {"p": 1, "q": 3}, "new": "yes"}
    assert environments.differences(a, b) == ["n.q", "gone", "new"]


def test_must_match_keys_are_never_acknowledged():
    a = {"runtime": {"python": "3.11"}, "packages": {"scikit-learn": "1.5"}, "gpu": "none"}
    b = {"runtime": {"python": "3.12"}, "packages": {"scikit-learn": "1.5"}, "gpu": "a100"}
    notes = environments.acknowledgements(a, b)
    assert set(notes) == {"gpu"}
    assert "none" in notes["gpu"] and "a100" in notes["gpu"]


def test_dates_are_relative_to_today():
    text = dated("{{days_ago_2}} {{days_ahead_1}}", date(2025, 3, 1))
    assert text == "2025-02-27 2025-03-02"


def test_unfilled_placeholders_are_refused():
    with pytest.raises(ValueError):
        dated("{{someday}}", date(2025, 3, 1))


def test_rehearsal_is_two_days_before_today():
    assert '"rehearsed_at": "2025-02-27T14:00:00Z"' in rehearsal_record(date(2025, 3, 1))
