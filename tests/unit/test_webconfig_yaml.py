"""Reading a --web.config.file as YAML: paths in messages, duplicate keys, aliases, syntax.

The web config is read by the same strict reader as the exporter config
(``exporter.config.reading``); its messages keep their own shape.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.webconfig import WebConfigError, load_web_config, parse_web_config

TOP_KEYS = "valid keys here: basic_auth_users, tls_server_config"
NOT_A_HASH = (
    "not a bcrypt hash (value not shown); expected $2a$, $2b$ or $2y$, a cost from 04 to 31 "
    "and 53 characters, e.g. from `htpasswd -nbBC 10 USER PASSWORD` (the part after ':')"
)


def refused(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "web.yml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(WebConfigError) as caught:
        load_web_config(path)
    return [error.replace(str(path), "{file}") for error in caught.value.errors]


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("1: x\n", f'["1"]: unknown key; {TOP_KEYS}'),
        ("yes: x\n", f'["True"]: unknown key; {TOP_KEYS}'),
        ("'a b': x\n", f'["a b"]: unknown key; {TOP_KEYS}'),
        ("basic_auth_users:\n  'a b': plain\n", f'basic_auth_users["a b"]: {NOT_A_HASH}'),
        ("basic_auth_users:\n  alice_2-b: plain\n", f"basic_auth_users.alice_2-b: {NOT_A_HASH}"),
    ],
)
def test_a_key_that_is_not_a_plain_name_is_shown_quoted(
    tmp_path: Path, text: str, error: str
) -> None:
    assert refused(tmp_path, text) == [error]


def test_a_dotted_tls_key_is_quoted_so_it_cannot_pass_for_a_path(tmp_path: Path) -> None:
    text = "tls_server_config:\n  a.b: 1\n  cert_file: c\n  key_file: k\n"
    (error, *_) = refused(tmp_path, text)
    assert error == (
        'tls_server_config["a.b"]: unknown key; valid keys here: cert_file, client_auth_type, '
        "client_ca_file, key_file, min_version"
    )


def test_a_control_character_in_a_key_given_as_data_is_shown_escaped() -> None:
    with pytest.raises(WebConfigError) as caught:
        parse_web_config({"basic_auth_users": {"a\x1b[2J": "plain"}}, ".")
    assert caught.value.errors == [f'basic_auth_users["a\\u001b[2J"]: {NOT_A_HASH}']


def test_a_duplicate_top_level_key_is_named_with_its_line(tmp_path: Path) -> None:
    text = "basic_auth_users: {}\nbasic_auth_users: {}\n"
    assert refused(tmp_path, text) == ['{file}: line 2: duplicate key "basic_auth_users"']


def test_small_aliases_are_read(tmp_path: Path) -> None:
    text = "basic_auth_users: &users\n  'a:b': x\nother: *users\n"
    assert refused(tmp_path, text) == [
        f"other: unknown key; {TOP_KEYS}",
        "basic_auth_users[\"a:b\"]: user name must not contain ':' (basic auth splits user and "
        "password at the first ':')",
    ]


def test_two_documents_are_invalid_yaml(tmp_path: Path) -> None:
    assert refused(tmp_path, "basic_auth_users: {}\n---\nother: 1\n") == [
        "{file}: invalid YAML at line 2, column 1: but found another document"
    ]


def test_an_empty_file_is_plain_http_without_auth(tmp_path: Path) -> None:
    path = tmp_path / "web.yml"
    path.write_text("# nothing yet\n", encoding="utf-8")
    assert repr(load_web_config(path)) == "WebConfig(tls=off, basic_auth_users=0)"


def test_every_duplicate_key_is_named(tmp_path: Path) -> None:
    text = (
        "basic_auth_users:\n  alice: x\n  alice: y\n"
        "tls_server_config:\n  cert_file: a\n  cert_file: b\n"
    )
    assert refused(tmp_path, text) == [
        '{file}: line 3: duplicate key "alice"',
        '{file}: line 6: duplicate key "cert_file"',
    ]


def test_a_billion_laughs_is_refused_at_the_alias_that_crosses_the_bound(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    (error,) = refused(tmp_path, "\n".join(lines) + "\n")
    assert error.startswith("{file}: invalid YAML at line 5, column ")
    assert "refused: with alias *a3 the aliases in this file expand to more than 50000 values" in (
        error
    )


def test_nesting_deeper_than_any_config_needs_is_refused(tmp_path: Path) -> None:
    assert refused(tmp_path, "basic_auth_users: " + "[" * 40 + "]" * 40 + "\n") == [
        "{file}: invalid YAML at line 1, column 50: refused: nested more than 32 levels deep, "
        "which no config needs; check the brackets and indentation"
    ]


def test_a_raw_control_character_is_named_escaped_with_line_and_column(tmp_path: Path) -> None:
    assert refused(tmp_path, "basic_auth_users:\n  al\x1bice: x\n") == [
        "{file}: invalid YAML at line 2, column 5: unprintable character \\x1b is not allowed "
        "in a YAML file; remove it"
    ]
