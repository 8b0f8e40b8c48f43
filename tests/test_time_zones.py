"""The `timezone` setting's check knows a zone without listing every zone: same answers as the listing."""

from __future__ import annotations

import zoneinfo

import pytest

from wfdsl.check import values


def test_every_listed_zone_is_a_zone() -> None:
    listed = zoneinfo.available_timezones()
    assert listed, "no time zone data on this machine"
    assert all(values._is_zone(name) for name in listed)


@pytest.mark.parametrize(
    "name",
    ["Europe/Osloo", "europe/oslo", "posixrules", "right/UTC", "posix/UTC", "Europe", "Europe/", "../zoneinfo/UTC", ""],
)
def test_other_names_are_answered_as_the_listing_does(name: str) -> None:
    assert values._is_zone(name) == (name in zoneinfo.available_timezones())
