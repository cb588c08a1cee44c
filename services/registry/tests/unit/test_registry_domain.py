"""The registry's pure rules: names, tags, manifests, digests, references, trust, aliases."""

import hashlib
from datetime import UTC, datetime, timedelta

import pytest

from modelops_contracts.api.registry import FileEntry
from modelops_registry import domain
from modelops_registry.domain import Selector
from modelops_servicekit.errors import Invalid


def entry(path: str, data: bytes = b"x") -> FileEntry:
    return FileEntry(path=path, sha256=hashlib.sha256(data).hexdigest(), size=len(data))


@pytest.mark.parametrize("name", ["a", "churn", "churn-v2.onnx_1", "x" * 128])
def test_valid_names_pass(name: str) -> None:
    assert domain.check_name(name) == name


@pytest.mark.parametrize("name", ["", "Churn", "-a", "a-", "a b", "a@b", "x" * 129, "a/b"])
def test_invalid_names_say_what_is_allowed(name: str) -> None:
    with pytest.raises(Invalid, match="invalid model name"):
        domain.check_name(name)


def test_tags_parse_as_key_value_and_reject_bad_keys() -> None:
    assert domain.parse_tags(["area=mnist", "empty=", "eq=a=b"]) == {
        "area": "mnist",
        "empty": "",
        "eq": "a=b",
    }
    for bad in ("novalue", "=v", "a.b=1", "$x=1"):
        with pytest.raises(Invalid):
            domain.parse_tag(bad)
    with pytest.raises(Invalid, match="longer than"):
        domain.check_tags({"k": "v" * 257})


def test_a_manifest_is_sorted_non_empty_distinct_and_relative() -> None:
    files = domain.check_manifest([entry("b/c.txt"), entry("a.onnx")])
    assert [f.path for f in files] == ["a.onnx", "b/c.txt"]
    with pytest.raises(Invalid, match="empty folder"):
        domain.check_manifest([])
    assert domain.check_manifest([], allow_empty=True) == []
    with pytest.raises(Invalid, match="twice"):
        domain.check_manifest([entry("a"), entry("a", b"y")])
    for bad in ("../x", "/etc/passwd", "a//b", "a\\b", "./a"):
        with pytest.raises(Invalid, match="relative"):
            domain.check_manifest([entry(bad)])


def test_the_content_digest_ignores_order_and_sees_every_byte_and_name() -> None:
    a, b = entry("a", b"1"), entry("b", b"2")
    assert domain.content_digest([a, b]) == domain.content_digest([b, a])
    assert domain.content_digest([a, b]) != domain.content_digest([a, entry("b", b"3")])
    assert domain.content_digest([a]) != domain.content_digest([entry("renamed", b"1")])
    expected = hashlib.sha256(f"a\x00{a.sha256}\n".encode()).hexdigest()
    assert domain.content_digest([a]) == expected


@pytest.mark.parametrize(
    ("ref", "name", "selector"),
    [
        ("churn", "churn", Selector()),
        ("churn:latest", "churn", Selector()),
        ("churn:3", "churn", Selector(version=3)),
        ("churn@champion", "churn", Selector(alias="champion")),
    ],
)
def test_references_resolve_numbers_latest_and_aliases(
    ref: str, name: str, selector: Selector
) -> None:
    assert domain.parse_ref(ref) == (name, selector)


def test_selectors_refuse_version_zero_and_bad_aliases() -> None:
    assert domain.parse_selector("@prod") == domain.parse_selector("prod") == Selector(alias="prod")
    with pytest.raises(Invalid, match="start at 1"):
        domain.parse_selector("0")
    with pytest.raises(Invalid, match="invalid alias name"):
        domain.parse_selector("@Bad")


def test_pickle_based_files_need_trust_and_onnx_does_not() -> None:
    domain.check_trust([entry("model.onnx")], trusted=False)
    domain.check_trust([entry("model.pkl")], trusted=True)
    for risky in ("model.pkl", "m.joblib", "weights.pt", "x.PICKLE"):
        with pytest.raises(Invalid, match="trusted=true"):
            domain.check_trust([entry(risky)], trusted=False)


def test_dataset_files_are_all_csv_or_all_parquet() -> None:
    assert domain.dataset_format([entry("a.csv"), entry("b.CSV")]) == "csv"
    assert domain.dataset_format([entry("a.parquet")]) == "parquet"
    with pytest.raises(Invalid, match="mixes"):
        domain.dataset_format([entry("a.csv"), entry("b.parquet")])
    with pytest.raises(Invalid, match=r"only \.csv or \.parquet"):
        domain.dataset_format([entry("a.json")])


def test_an_alias_history_answers_where_it_pointed_at_a_time() -> None:
    t0 = datetime(2025, 1, 1, tzinfo=UTC)
    history = [
        {"version": 2, "set_at": t0 + timedelta(hours=2)},
        {"version": 1, "set_at": t0},
    ]
    assert domain.alias_at(history, t0 - timedelta(seconds=1)) is None
    assert domain.alias_at(history, t0) == 1
    assert domain.alias_at(history, t0 + timedelta(hours=1)) == 1
    assert domain.alias_at(history, t0 + timedelta(hours=3)) == 2


def test_only_deleted_or_failed_deployments_release_a_version() -> None:
    assert domain.holds_version("Healthy")
    assert domain.holds_version("Transitioning")
    assert domain.holds_version("Unhealthy")
    assert not domain.holds_version("Deleted")
    assert not domain.holds_version("Failed")


def test_properties_are_add_only() -> None:
    domain.check_property_additions({"a": "1"}, {"a": "1", "b": "2"})
    with pytest.raises(Invalid, match="add-only"):
        domain.check_property_additions({"a": "1"}, {"a": "2"})
