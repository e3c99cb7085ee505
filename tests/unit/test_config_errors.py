"""exporter.config.errors: paths, hints and how problems are rendered for people."""

from __future__ import annotations

import pytest

from exporter.config.errors import (
    MAX_HINT_CHOICES,
    ConfigError,
    Problem,
    did_you_mean,
    escaped,
    format_path,
    printable,
    render,
    unprintable,
)


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ((), ""),
        (("regions",), "regions"),
        (("accounts", 2, "role_arn"), "accounts[2].role_arn"),
        (("regions", 0), "regions[0]"),
        (("accounts", 0, "regions", 1), "accounts[0].regions[1]"),
        (("a b", "c:d"), "a b.c:d"),  # the config shows keys as written
    ],
)
def test_format_path_writes_keys_and_list_indexes(path: tuple, text: str) -> None:
    assert format_path(path) == text


@pytest.mark.parametrize(
    ("path", "text"),
    [
        (("tls_server_config", "cert_file"), "tls_server_config.cert_file"),
        (("basic_auth_users", "ali:ce"), 'basic_auth_users["ali:ce"]'),
        (("basic_auth_users", "a.b"), 'basic_auth_users["a.b"]'),
        ((1,), '["1"]'),  # a key YAML read as a number, never a list index
        ((True,), '["True"]'),
        (("x", "\x1b"), 'x["\\u001b"]'),
    ],
)
def test_format_path_with_keys_only_quotes_what_is_not_a_plain_name(path: tuple, text: str) -> None:
    assert format_path(path, keys_only=True) == text


def test_render_orders_by_line_then_top_level_key_and_adds_the_line() -> None:
    problems = [
        Problem(("accounts", 0, "id"), "second"),
        Problem(("regions",), "first"),
        Problem(("concurrency",), "no line: by key order"),
        Problem((), "the whole file"),
    ]
    lines = {("regions",): 2, ("accounts",): 3, ("accounts", 0): 4, ("accounts", 0, "id"): 5}
    assert render(problems, lines, ["regions", "concurrency", "accounts"]) == [
        "config: the whole file",
        "concurrency: no line: by key order",
        "regions: first (line 2)",
        "accounts[0].id: second (line 5)",
    ]


def test_render_uses_the_nearest_known_line_or_the_one_given() -> None:
    lines = {("accounts",): 3, ("accounts", 1): 7, ("x", True): 9}
    problems = [
        Problem(("accounts", 1, "name"), "inherits its item's line"),
        Problem(("accounts",), "a duplicate names its own line", line=12),
        Problem(("x",), "a non-text key is looked up where it is", line_path=("x", True)),
    ]
    assert render(problems, lines, ["accounts", "x"]) == [
        "accounts[1].name: inherits its item's line (line 7)",
        "x: a non-text key is looked up where it is (line 9)",
        "accounts: a duplicate names its own line (line 12)",
    ]


def test_unprintable_characters_are_found_once_each_and_shown_escaped() -> None:
    text = "a\x1bb\u202ec\x1b\n"
    assert unprintable(text) == ["\x1b", "\u202e", "\n"]
    assert [escaped(ch) for ch in unprintable(text)] == ["\\x1b", "\\u202e", "\\n"]
    assert printable(text) == "a\\x1bb\\u202ec\\x1b\\n"
    assert printable("Équipe 東京 🚀") == "Équipe 東京 🚀"


def test_config_error_keeps_its_source() -> None:
    error = ConfigError(["a: b"], "config.yaml")
    assert error.source == "config.yaml"
    assert ConfigError(["a: b"]).source == "<config>"


@pytest.mark.parametrize(
    ("word", "hint"),
    [
        ("rol", " (did you mean role_arn?)"),  # an abbreviation first
        ("role_nmae", " (did you mean role_name?)"),  # else the closest spelling
        ("ROLE_NAME", " (did you mean role_name?)"),
        ("zzz", ""),
        ("", ""),
    ],
)
def test_did_you_mean_suggests_an_abbreviated_or_close_choice(word: str, hint: str) -> None:
    assert did_you_mean(word, ("role_name", "role_arn", "partition")) == hint


def test_did_you_mean_stays_quiet_among_too_many_choices() -> None:
    choices = frozenset(f"team-{i}" for i in range(MAX_HINT_CHOICES + 1))
    assert did_you_mean("team-1", choices) == ""
