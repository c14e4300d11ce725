"""The pure filter/sort parser of image_get_all (SPEC 3.2, 3.3): no database."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from glancedb import exception
from glancedb.images.listing_filters import (
    MAX_MATCH_FILTERS,
    ColumnCondition,
    PropertyCondition,
    SortKey,
    parse_filters,
    parse_query,
    parse_sort,
    split_filter_op,
    split_in_list,
)
from glancedb.keyset import check_limit


def test_api_wg_quoting_example_from_the_spec() -> None:
    assert split_in_list('"fake\\"name",fakename,"fake,name"') == [
        'fake\\"name',
        "fakename",
        "fake,name",
    ]


@pytest.mark.parametrize(
    ("text", "items"),
    [
        ("a,b,c", ["a", "b", "c"]),
        ("a", ["a"]),
        ("", []),
        ("a,", ["a"]),
        ("a,,b", ["a", "", "b"]),
        (",a", ["", "a"]),
        ('"a,b"', ["a,b"]),
        ('"a,b",', ["a,b"]),
        ('x,"",y', ["x", "", "y"]),
        ('ab\\"c', ['ab\\"c']),
        ('"a\\\\",b', ["a\\\\", "b"]),
    ],
)
def test_split_in_list(text: str, items: list[str]) -> None:
    assert split_in_list(text) == items


@pytest.mark.parametrize(
    "text",
    ['"abc', 'a"b', '"a"b', 'x,"a"b,c', 'a,"b', '"a\\"', 'ab"'],
)
def test_split_in_list_rejects_bad_quoting(text: str) -> None:
    with pytest.raises(exception.InvalidParameterValue, match="Invalid filter value"):
        split_in_list(text)


_ITEM = st.text(alphabet='ab,"\\ x', max_size=6)


def _quote(item: str) -> str:
    # Inside quotes a backslash protects the next character and is kept, so
    # an item with quotes must carry a backslash before each of them.
    return '"' + item + '"'


@given(st.lists(_ITEM.filter(lambda s: '"' not in s and "\\" not in s), min_size=1, max_size=5))
def test_quoted_items_round_trip(items: list[str]) -> None:
    assert split_in_list(",".join(_quote(item) for item in items)) == items


@given(st.lists(st.text(alphabet="ab x-", min_size=1, max_size=6), min_size=1, max_size=5))
def test_plain_items_round_trip(items: list[str]) -> None:
    assert split_in_list(",".join(items)) == items


def test_split_filter_op() -> None:
    assert split_filter_op("in:a,b") == ("in", "a,b")
    assert split_filter_op("plain") == ("eq", "plain")
    assert split_filter_op("gte:2024-01-01T00:00:00") == ("gte", "2024-01-01T00:00:00")
    # An ISO time with colons is a value, not an operator.
    assert split_filter_op("2024-01-01T10:20:30") == ("eq", "2024-01-01T10:20:30")
    assert split_filter_op("2024-01-01T10:20:30+02:00") == ("eq", "2024-01-01T10:20:30+02:00")


def test_list_filters() -> None:
    query = parse_filters({"name": 'in:a,"b,c"', "status": "eq:active", "disk_format": "raw"})
    assert set(query.conditions) == {
        ColumnCondition("name", "in", ("a", "b,c")),
        ColumnCondition("status", "eq", "active"),
        ColumnCondition("disk_format", "eq", "raw"),
    }


@pytest.mark.parametrize("key", ["name", "id", "status", "container_format", "disk_format"])
def test_list_filters_reject_other_operators(key: str) -> None:
    with pytest.raises(exception.InvalidFilterOperatorValue, match="'gt'"):
        parse_filters({key: "gt:x"})


def test_a_name_with_a_colon_is_an_operator_unless_an_iso_time() -> None:
    with pytest.raises(exception.InvalidFilterOperatorValue, match="'foo'"):
        parse_filters({"name": "foo:bar"})
    query = parse_filters({"name": "2024-01-01T10:00:00"})
    assert query.conditions == (ColumnCondition("name", "eq", "2024-01-01T10:00:00"),)


@pytest.mark.parametrize("op", ["gt", "gte", "lt", "lte", "neq", "eq"])
def test_time_filters(op: str) -> None:
    query = parse_filters({"created_at": f"{op}:2024-03-04T05:06:07Z"})
    assert query.conditions == (
        ColumnCondition("created_at", op, datetime.datetime(2024, 3, 4, 5, 6, 7)),  # type: ignore[arg-type]
    )


def test_time_filters_normalise_aware_times_and_default_to_eq() -> None:
    query = parse_filters({"updated_at": "2024-03-04T07:06:07+02:00"})
    assert query.conditions == (
        ColumnCondition("updated_at", "eq", datetime.datetime(2024, 3, 4, 5, 6, 7)),
    )


def test_time_filter_errors() -> None:
    with pytest.raises(exception.InvalidParameterValue, match="not-a-time"):
        parse_filters({"created_at": "gt:not-a-time"})
    with pytest.raises(exception.InvalidFilterOperatorValue, match="'in'"):
        parse_filters({"updated_at": "in:2024-01-01T00:00:00"})
    with pytest.raises(exception.InvalidParameterValue):
        parse_filters({"created_at": "yesterday"})


def test_changes_since_implies_showing_deleted_and_normalises() -> None:
    aware = datetime.datetime(2024, 1, 1, 12, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    query = parse_filters({"changes-since": aware})
    assert query.showing_deleted
    assert query.conditions == (
        ColumnCondition("updated_at", "gt", datetime.datetime(2024, 1, 1, 11)),
    )
    with pytest.raises(exception.InvalidParameterValue, match="changes-since"):
        parse_filters({"changes-since": "garbage"})


def test_deleted_filter() -> None:
    assert parse_filters({"deleted": False}).conditions == (
        ColumnCondition("deleted", "eq", False),
        ColumnCondition("status", "neq", "killed"),
    )
    query = parse_filters({"deleted": True})
    assert query.showing_deleted
    assert query.conditions == (ColumnCondition("deleted", "eq", True),)
    assert parse_filters({"deleted": None}).conditions == (ColumnCondition("deleted", "is_null"),)
    # Text as oslo's bool_from_string reads it: blanks and case do not matter.
    for text, flag in ((" True ", True), ("FALSE", False), ("1", True), (" 0", False)):
        assert parse_filters({"deleted": text}).conditions[0] == ColumnCondition(
            "deleted", "eq", flag
        )
    for bad in (2, -1, "yes", "", 0.5):
        with pytest.raises(exception.InvalidParameterValue, match="deleted"):
            parse_filters({"deleted": bad})


@pytest.mark.parametrize("key", ["checksum", "os_hash_value", "os_hidden"])
def test_none_means_is_null_for_some_keys(key: str) -> None:
    assert parse_filters({key: None}).conditions == (ColumnCondition(key, "is_null"),)


@pytest.mark.parametrize(
    "key", ["name", "owner", "size_min", "created_at", "tags", "properties", "my_prop"]
)
def test_none_is_ignored_for_other_keys(key: str) -> None:
    query = parse_filters({key: None})
    assert query.conditions == () and query.properties == () and query.tags == ()


def test_range_filters() -> None:
    query = parse_filters({"size_min": "10", "size_max": 20, "virtual_size_max": "5"})
    assert set(query.conditions) == {
        ColumnCondition("size", "gte", 10),
        ColumnCondition("size", "lte", 20),
        ColumnCondition("virtual_size", "lte", 5),
    }
    with pytest.raises(exception.InvalidFilterRangeValue, match="'abc'"):
        parse_filters({"size_min": "abc"})
    with pytest.raises(exception.InvalidFilterRangeValue, match="name_min"):
        parse_filters({"name_min": "1"})


def test_unknown_key_is_a_property_and_column_key_is_equality() -> None:
    query = parse_filters(
        {
            "os_distro": "ubuntu",
            "owner": "tenant-a",
            "min_ram": "512",
            "protected": "true",
            "weird; DROP TABLE images": "x",
            "properties": {"a": "1", "b": 2},
        }
    )
    assert set(query.conditions) == {
        ColumnCondition("owner", "eq", "tenant-a"),
        ColumnCondition("min_ram", "eq", 512),
        ColumnCondition("protected", "eq", True),
    }
    assert set(query.properties) == {
        PropertyCondition("os_distro", "ubuntu"),
        PropertyCondition("weird; DROP TABLE images", "x"),
        PropertyCondition("a", "1"),
        PropertyCondition("b", "2"),
    }


def test_typed_column_values_are_checked() -> None:
    with pytest.raises(exception.InvalidParameterValue, match="min_ram"):
        parse_filters({"min_ram": "lots"})
    with pytest.raises(exception.InvalidParameterValue, match="os_hidden"):
        parse_filters({"os_hidden": "maybe"})


def test_tags_visibility_and_is_public() -> None:
    query = parse_filters({"tags": ["a", "b"], "visibility": "all"}, is_public=False)
    assert query.tags == ("a", "b")
    assert query.visibility == "all"
    assert query.is_public is False
    with pytest.raises(exception.InvalidParameterValue, match="'secret'"):
        parse_filters({"visibility": "secret"})
    assert parse_filters({"tags": "solo"}).tags == ("solo",)
    with pytest.raises(exception.InvalidParameterValue, match="tags"):
        parse_filters({"tags": 3})
    with pytest.raises(exception.InvalidParameterValue, match="properties"):
        parse_filters({"properties": ["a"]})


def test_caller_dict_is_not_modified() -> None:
    filters = {"visibility": "public", "deleted": False, "properties": {"a": "b"}}
    parse_filters(filters)
    assert filters == {"visibility": "public", "deleted": False, "properties": {"a": "b"}}


def test_sort_defaults_and_tie_breakers() -> None:
    assert parse_sort(None, None) == (SortKey("created_at", "desc"), SortKey("id", "desc"))
    assert parse_sort(["name"], ["asc"]) == (
        SortKey("name", "asc"),
        SortKey("created_at", "asc"),
        SortKey("id", "asc"),
    )
    assert parse_sort(["name", "size"], ["asc", "asc"]) == (
        SortKey("name", "asc"),
        SortKey("size", "asc"),
        SortKey("created_at", "desc"),
        SortKey("id", "desc"),
    )
    assert parse_sort(["id", "created_at"], None) == (
        SortKey("id", "desc"),
        SortKey("created_at", "desc"),
    )
    assert parse_sort("name", "asc")[0] == SortKey("name", "asc")


def test_a_repeated_sort_key_is_dropped() -> None:
    """Its later mentions could break no tie: the order is the same without them."""
    assert parse_sort(["name", "size", "name"], ["asc", "desc", "desc"]) == (
        SortKey("name", "asc"),
        SortKey("size", "desc"),
        SortKey("created_at", "desc"),
        SortKey("id", "desc"),
    )
    assert len(parse_sort(["name", "size"] * 5000, ["asc"])) == 4


def test_tag_and_property_filters_are_bounded_together() -> None:
    half = MAX_MATCH_FILTERS // 2
    props = {f"p{i}": "v" for i in range(half)}
    tags = [f"t{i}" for i in range(MAX_MATCH_FILTERS - half)]
    query = parse_filters({"properties": props, "tags": tags})
    assert len(query.properties) + len(query.tags) == MAX_MATCH_FILTERS
    limit, given = MAX_MATCH_FILTERS, MAX_MATCH_FILTERS + 1
    too_many = f"at most {limit} tag and property filters together, not {given}"
    for filters in (
        {"properties": props, "tags": [*tags, "one-more"]},
        {"properties": props, "tags": tags, "os_distro": "x"},  # a property given as a key
        # Filters no row can match count too.
        {"properties": props, "tags": [*tags, "\U0001f600"]},
        {"tags": [f"t{i}" for i in range(MAX_MATCH_FILTERS + 1)]},
    ):
        with pytest.raises(exception.InvalidParameterValue, match=too_many):
            parse_filters(filters)


def test_sort_errors() -> None:
    with pytest.raises(exception.InvalidSortKey, match="'bogus'"):
        parse_sort(["bogus"], None)
    with pytest.raises(exception.InvalidSortKey, match="properties"):
        parse_sort(["properties"], None)
    for bad in ("up", "ASC", "desc "):
        with pytest.raises(exception.InvalidSortDir, match=repr(bad)):
            parse_sort(["name"], [bad])
    with pytest.raises(exception.InvalidSortDir):
        parse_sort(["name", "size", "id"], ["asc", "desc"])


def test_limits() -> None:
    assert check_limit(None) is None
    assert check_limit(0) == 0
    assert check_limit(25) == 25
    assert check_limit(2**63 - 1) == 2**63 - 1
    for bad in (-1, "x", 1.5, True, 2**63, str(2**64), [5], {"limit": 5}):
        with pytest.raises(exception.Invalid, match="limit"):
            check_limit(bad)


def test_parse_query_combines_filters_and_sort() -> None:
    query = parse_query({"name": "x"}, ["size"], ["asc"], is_public=True)
    assert query.sort[0] == SortKey("size", "asc")
    assert query.conditions == (ColumnCondition("name", "eq", "x"),)
    assert query.is_public is True


# --- hostile input (SPEC 12): the leaks the fuzz test found ---------------------------


@pytest.mark.parametrize(
    ("filters", "key"),
    [
        ({"name": ["a", "list"]}, "name"),
        ({"owner": {"a": "dict"}}, "owner"),
        ({"checksum": ["x"]}, "checksum"),
        ({"os_distro": {"nested": 1}}, "os_distro"),
        ({"properties": {"os_distro": ["x"]}}, "os_distro"),
        ({"tags": [["nested"]]}, "tags"),
        ({"tags": [b"bytes"]}, "tags"),
        ({"min_disk": {1}}, "min_disk"),
        ({"size_min": [1]}, "size_min"),
        ({"created_at": ["gt:2024-01-01T00:00:00"]}, "created_at"),
    ],
    ids=repr,
)
def test_a_non_scalar_filter_value_is_invalid_naming_the_key(
    filters: dict[str, Any], key: str
) -> None:
    with pytest.raises(exception.Invalid, match=key):
        parse_filters(filters)


@pytest.mark.parametrize(
    "filters",
    [
        {"name": "nul\x00"},
        {"name": "in:a,b\x00"},
        {"checksum": "\x00"},
        {"owner": "lone\ud800"},
        {"os_distro": "x\x00"},
        {"properties": {"os\x00distro": "x"}},
        {"tags": ["a\x00"]},
    ],
    ids=repr,
)
def test_nul_and_lone_surrogates_in_filter_values_are_invalid(filters: dict[str, Any]) -> None:
    with pytest.raises(exception.InvalidParameterValue, match="NUL"):
        parse_filters(filters)


@pytest.mark.parametrize(
    "filters",
    [
        {"name": "\U0001f600"},
        {"name": "eq:\U0001f600"},
        {"name": "in:\U0001f600"},
        {"checksum": "\U0001f600"},
        {"owner": "\U0001f600"},
        {"os_distro": "\U0001f600"},
        {"properties": {"\U0001f600": "x"}},
        {"tags": ["ok", "\U0001f600"]},
    ],
    ids=repr,
)
def test_four_byte_filter_values_match_nothing(filters: dict[str, Any]) -> None:
    assert parse_filters(filters).matches_nothing


def test_four_byte_items_of_an_in_list_are_dropped() -> None:
    query = parse_filters({"name": "in:a,\U0001f600,b"})
    assert query.conditions == (ColumnCondition("name", "in", ("a", "b")),)
    assert not query.matches_nothing


@pytest.mark.parametrize(
    ("filters", "error"),
    [
        ({"min_disk": 2**64}, exception.InvalidParameterValue),
        ({"size": -(2**63) - 1}, exception.InvalidParameterValue),
        ({"size_min": 2**63}, exception.InvalidFilterRangeValue),
        ({"virtual_size_max": float("inf")}, exception.InvalidFilterRangeValue),
        ({"size_max": "1" * 30}, exception.InvalidFilterRangeValue),
        ({"visibility": ["public"]}, exception.InvalidParameterValue),
        (
            {
                "changes-since": datetime.datetime.min.replace(
                    tzinfo=datetime.timezone(datetime.timedelta(hours=1))
                )
            },
            exception.Invalid,
        ),
    ],
    ids=repr,
)
def test_integers_beyond_64_bits_and_odd_types_are_invalid(
    filters: dict[str, Any], error: type[Exception]
) -> None:
    with pytest.raises(error):
        parse_filters(filters)


def test_sort_options_of_odd_types() -> None:
    for key in (5, [5], ["name", ["size"]], {"name": 1}):
        with pytest.raises(exception.InvalidSortKey):
            parse_sort(key, None)  # type: ignore[arg-type]
    for direction in (5, [None], {"asc"}, ["asc", ["desc"]]):
        with pytest.raises(exception.InvalidSortDir):
            parse_sort(["name", "size"], direction)  # type: ignore[arg-type]
