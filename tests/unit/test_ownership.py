"""Owner labels from tags: parsing hostile tag lists, precedence, the cache."""

from __future__ import annotations

from exporter.ownership import TagCache, owner_values, tags_from_list, tags_from_map

LABELS = (("team", "Team"), ("cost_center", "CostCenter"))


def test_tag_lists_become_sorted_pairs() -> None:
    items = [{"Key": "Team", "Value": "payments"}, {"Key": "Env", "Value": "prod"}]
    assert tags_from_list(items) == (("Env", "prod"), ("Team", "payments"))


def test_malformed_tag_items_are_skipped() -> None:
    items = [
        {"Key": "Team", "Value": "search"},
        {"Key": 7, "Value": "x"},
        {"Value": "no key"},
        "Team=forged",
        {"Key": "", "Value": "empty key"},
        {"Key": "K" * 129, "Value": "key too long"},
        {"Key": "Long", "Value": "v" * 300},
    ]
    assert tags_from_list(items) == (("Long", "v" * 256), ("Team", "search"))
    assert tags_from_list({"Key": "Team"}) == ()
    assert tags_from_list(None) == ()


def test_no_more_than_fifty_tags_are_kept() -> None:
    items = [{"Key": f"k{i:03}", "Value": "v"} for i in range(500)]
    assert len(tags_from_list(items)) == 50


def test_a_tag_map_reads_like_a_list() -> None:
    assert tags_from_map({"Team": "ml", "CostCenter": "42"}) == (
        ("CostCenter", "42"),
        ("Team", "ml"),
    )
    assert tags_from_map(["Team"]) == ()


def test_the_reservations_own_tag_wins_over_its_accounts() -> None:
    own = (("Team", "payments"),)
    account = (("CostCenter", "cc-7"), ("Team", "platform"))
    assert owner_values(LABELS, own, account) == ("payments", "cc-7")


def test_an_empty_own_tag_still_wins_and_a_missing_one_is_empty() -> None:
    assert owner_values(LABELS, (("Team", ""),), (("Team", "platform"),)) == ("", "")
    assert owner_values(LABELS, (), ()) == ("", "")


def test_the_cache_says_what_is_due() -> None:
    cache = TagCache()
    group = ("222222222222", "us-east-1", "rds")
    assert cache.due(group, "ri-1", now=1000, max_age=3600)
    cache.put(group, "ri-1", (("Team", "a"),), now=1000)
    assert not cache.due(group, "ri-1", now=4599, max_age=3600)
    assert cache.due(group, "ri-1", now=4600, max_age=3600)
    assert cache.get(group, "ri-1") == (("Team", "a"),)
    assert cache.get(group, "ri-2") is None


def test_the_cache_forgets_what_is_no_longer_listed() -> None:
    cache = TagCache()
    a, b = ("1", "us-east-1", "rds"), ("2", "us-east-1", "rds")
    for key in ("x", "y"):
        cache.put(a, key, (), 0)
        cache.put(b, key, (), 0)
    cache.retain(a, ["y"])
    assert (cache.get(a, "x"), cache.get(a, "y")) == (None, ())
    cache.retain_groups([a])
    assert cache.get(b, "x") is None
    assert len(cache) == 1
