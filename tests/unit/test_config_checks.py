"""exporter.config.model.validate and exporter.config.checks, called directly.

The fixtures in tests/configs/ pin every message through load_config; these pin what the
pieces hand each other: problems at paths, and the paths whose other problems are hidden.
"""

from __future__ import annotations

from exporter.config.checks import check_accounts, scan_for_credentials
from exporter.config.errors import Problem
from exporter.config.model import AccountConfig, Defaults, Renewal, validate


def test_validate_returns_the_model_or_none_with_every_problem_at_its_path() -> None:
    problems: list[Problem] = []
    assert validate(Renewal, {"scope": "organization"}, ("renewal",), problems) == Renewal(
        scope="organization"
    )
    assert problems == []

    raw = {"scope": "org", "purchase_windw": "1d"}
    assert validate(Renewal, raw, ("renewal",), problems) is None
    assert [(p.path, p.message.split(";")[0]) for p in problems] == [
        (
            ("renewal", "scope"),
            "must be account (a renewal counts only in the reservation's own account) or "
            "organization (in any account this exporter reads) (got 'org')",
        ),
        (("renewal", "purchase_windw"), "unknown key (did you mean purchase_window?)"),
    ]


def test_validate_reports_each_bad_list_item_at_its_index() -> None:
    problems: list[Problem] = []
    raw = {"name": "a", "regions": ["us-east-1", 5, "all"]}
    validate(AccountConfig, raw, ("accounts", 3), problems)
    assert [p.path for p in problems] == [
        ("accounts", 3, "regions", 1),
        ("accounts", 3, "regions", 2),
    ]


def test_validate_leaves_a_key_that_is_not_text_to_the_scan() -> None:
    problems: list[Problem] = []
    assert validate(Defaults, {True: 1}, ("defaults",), problems) is None
    assert problems == []


def test_the_credential_scan_returns_the_paths_it_reported_and_never_echoes_a_secret() -> None:
    data = {
        "accounts": [{"name": "a", "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG"}],
        "defaults": {"external_id": "AKIAIOSFODNN7EXAMPLE", 1: "x"},
        "regions": ["us-east-1"],
    }
    problems: list[Problem] = []
    banned = scan_for_credentials(data, (), problems, set())
    assert banned == [
        ("accounts", 0, "aws_secret_access_key"),
        ("defaults", "external_id"),
        ("defaults", 1),
    ]
    assert [p.path for p in problems] == [
        ("accounts", 0, "aws_secret_access_key"),
        ("defaults", "external_id"),
        ("defaults",),  # a key that is not text is reported at its mapping ...
    ]
    assert problems[2].line_path == ("defaults", 1)  # ... on the key's own line
    text = " ".join(p.message for p in problems)
    assert "wJalrXUtnFEMI" not in text and "AKIAIOSFODNN7EXAMPLE" not in text


def test_the_credential_scan_walks_a_recursive_structure_once() -> None:
    loop: list[object] = []
    loop.append(loop)
    assert scan_for_credentials({"x": loop}, (), [], set()) == []


def test_account_checks_see_names_in_raw_entries_that_failed_validation() -> None:
    raw = [{"name": "prod", "id": 1}, {"name": "prod", "id": "111111111111"}]
    valid = [(1, AccountConfig(name="prod", id="111111111111"))]
    problems: list[Problem] = []
    check_accounts(valid, raw, Defaults(), problems)
    assert [p.path for p in problems] == [("accounts", 1, "name")]
    assert problems[0].message.startswith("duplicate account name 'prod' (also accounts[0])")


def test_a_via_chain_reports_its_loop_once_at_the_member_listed_first() -> None:
    accounts = [
        (i, AccountConfig(name=name, id=f"{i + 1:012d}", via=via, session_duration=3600))
        for i, (name, via) in enumerate([("a", "c"), ("b", "a"), ("c", "b")])
    ]
    problems: list[Problem] = []
    check_accounts(accounts, [a.model_dump() for _, a in accounts], Defaults(), problems)
    assert [(p.path, p.message.split(";")[0]) for p in problems] == [
        (("accounts", 0, "via"), "role chain loops: a -> c -> b -> a")
    ]
