"""Hostile or broken input ends in a ConfigError, quickly: never a hang, a crash or raw escapes.

A config is read at start, by ``--check-config`` and on every reload; a file that
hangs the loader or crashes it with RecursionError would take the exporter down.
The timeouts only guard against a hang: each case returns in well under a second.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import (
    MAX_ALIAS_VALUES,
    MAX_CONFIG_BYTES,
    MAX_DEPTH,
    MAX_VALUES,
    ConfigError,
    load_config,
    parse_config,
)
from tests.support import CONFIGS

HEAD = "regions: [us-east-1]\naccounts:\n  - name: payer\n"


def refused(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.errors


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    "name",
    [
        "yaml-billion-laughs",
        "yaml-merge-bomb",
        "yaml-nested-too-deep",
        "yaml-alias-nested-too-deep",
    ],
)
def test_hostile_fixture_is_refused_without_expanding_it(name: str) -> None:
    path = CONFIGS / f"{name}.bad.yaml"
    assert path.stat().st_size < 1500
    (error,) = refused(path)
    assert error.startswith(f"{path}:")
    assert ": refused: " in error


@pytest.mark.timeout(10)
def test_billion_laughs_of_mappings_at_full_depth_is_refused_at_an_alias_line(
    tmp_path: Path,
) -> None:
    lines = [HEAD.rstrip("\n"), "l0: &l0 {a: lol}"]
    lines += [
        f"l{i}: &l{i} {{" + ", ".join(f"k{j}: *l{i - 1}" for j in range(10)) + "}"
        for i in range(1, 13)
    ]
    (error,) = refused(write(tmp_path, "\n".join(lines) + "\n"))
    # l4 stands for 42,221 values; aliases in l1 to l4 add 46,860: the first alias in l5
    # crosses the bound, long before anything is expanded.
    assert error.startswith(f"{tmp_path / 'config.yaml'}:9:14: refused: with alias *l4 ")
    assert f"expand to more than {MAX_ALIAS_VALUES} values" in error
    assert "billion laughs" in error


@pytest.mark.timeout(10)
def test_deep_flow_nesting_is_refused_not_a_recursion_error(tmp_path: Path) -> None:
    depth = 200_000  # 400 KB of brackets; the 32nd opens level 33
    path = write(tmp_path, f"regions: {'[' * depth}{']' * depth}\naccounts: []\n")
    (error,) = refused(path)
    assert error == (
        f"{path}:1:{9 + MAX_DEPTH}: refused: nested more than {MAX_DEPTH} levels deep, which "
        "no config needs; check the brackets and indentation"
    )


@pytest.mark.timeout(10)
def test_deep_block_nesting_is_refused(tmp_path: Path) -> None:
    text = HEAD + "".join(f"{'  ' * level}k{level}:\n" for level in range(60))
    (error,) = refused(write(tmp_path, text))
    assert f"refused: nested more than {MAX_DEPTH} levels deep" in error


# ~2 s of PyYAML scanning alone; the bound is for a hang, not for a busy machine
# (a full CI run once took over 10 s here).
@pytest.mark.timeout(60)
def test_document_with_too_many_values_is_refused(tmp_path: Path) -> None:
    text = HEAD + "extra: [" + ",".join(["1"] * (MAX_VALUES + 10)) + "]\n"
    assert len(text) < MAX_CONFIG_BYTES
    (error,) = refused(write(tmp_path, text))
    assert f"refused: the document holds more than {MAX_VALUES} values" in error
    assert "organizations discovery" in error


@pytest.mark.timeout(10)
def test_file_over_the_size_limit_is_refused_before_parsing(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + "# padding\n" * (MAX_CONFIG_BYTES // 10))
    assert refused(path) == [
        f"{path}: larger than 1 MiB, far more than a config needs (and more than a Kubernetes "
        "ConfigMap holds); check that this is the config file, and list thousands of accounts "
        "through organizations discovery instead"
    ]


@pytest.mark.timeout(10)
def test_endless_file_is_read_only_up_to_the_limit() -> None:
    zero = Path("/dev/zero")
    if not zero.exists():
        pytest.skip("no /dev/zero here")
    (error,) = refused(zero)
    assert error.startswith("/dev/zero: larger than 1 MiB")


@pytest.mark.timeout(10)
def test_deeply_nested_data_given_to_parse_config_is_a_config_error() -> None:
    data: list[object] = []
    for _ in range(100_000):
        data = [data]
    with pytest.raises(ConfigError) as caught:
        parse_config({"regions": ["us-east-1"], "accounts": [{"name": "payer"}], "x": data})
    assert caught.value.errors == [
        "<config>: lists or mappings nested too deeply to check; a config needs only a few "
        f"levels (files are refused past {MAX_DEPTH})"
    ]


def test_ordinary_aliases_and_merge_keys_for_hundreds_of_accounts_still_load(
    tmp_path: Path,
) -> None:
    accounts = "".join(
        f"  - <<: *account\n    name: team-{i}\n    id: '{i:012d}'\n    regions: *regions\n"
        for i in range(1, 401)
    )
    # The anchors live in the first account: unknown top-level keys are errors.
    text = (
        "regions: &regions [us-east-1, eu-west-1, ap-northeast-1]\n"
        "accounts:\n"
        "  - &account {name: team-0, id: '999999999999', session_duration: 1h, "
        "services: [ec2, rds]}\n" + accounts
    )
    config = load_config(write(tmp_path, text))
    assert len(config.accounts) == 401
    team = config.account("team-400")
    assert team is not None
    assert team.services == ("ec2", "rds")
    assert config.effective_regions(team) == ("us-east-1", "eu-west-1", "ap-northeast-1")


@pytest.mark.timeout(10)
def test_raw_control_character_in_the_file_is_named_escaped_with_its_line(
    tmp_path: Path,
) -> None:
    path = tmp_path / "esc.yaml"
    path.write_bytes(b"regions: [us-east-1]\naccounts:\n  - name: pro\x1b[31md\n")
    assert refused(path) == [
        f"{path}:3:14: YAML error: unprintable character \\x1b is not allowed in a YAML "
        "file; remove it"
    ]


@pytest.mark.timeout(10)
def test_thousands_of_accounts_in_one_role_chain_are_checked_in_linear_time(
    tmp_path: Path,
) -> None:
    count = 5000
    text = "regions: [us-east-1]\naccounts:\n  - {name: a0, id: '000000000001'}\n" + "".join(
        f"  - {{name: a{i}, id: '{i + 1:012d}', via: a{i - 1}}}\n" for i in range(1, count)
    )
    text += "  - {name: loop-a, id: '999999999998', via: loop-b}\n"
    text += "  - {name: loop-b, id: '999999999999', via: loop-a}\n"
    (error,) = refused(write(tmp_path, text))
    assert error == (
        f"accounts[{count}].via: role chain loops: loop-a -> loop-b -> loop-a; a chain must "
        f"start at an account without via (line {count + 3})"
    )


@pytest.mark.timeout(10)
def test_thousands_of_unknown_via_names_get_no_slow_did_you_mean(tmp_path: Path) -> None:
    count = 3000
    text = "regions: [us-east-1]\naccounts:\n" + "".join(
        f"  - {{name: team-{i}, id: '{i + 1:012d}', via: taem-{i}}}\n" for i in range(count)
    )
    errors = refused(write(tmp_path, text))
    assert len(errors) == count
    assert errors[0] == (
        "accounts[0].via: no account named 'taem-0'; via must name another account in this "
        "list (line 3)"
    )


# ------------------------------------------------ names and echoed values (labels, logs)

UNPRINTABLE = [
    "\x00",
    "\x07",
    "\t",
    "\n",
    "\r",
    "\x1b",
    "\x7f",
    "\x85",  # NEL
    "\x9b",  # CSI
    "\u2028",  # line separator
    "\u2029",  # paragraph separator
    "\u202a",
    "\u202b",
    "\u202c",
    "\u202d",
    "\u202e",  # bidi embeddings and overrides
    "\u2066",
    "\u2067",
    "\u2068",
    "\u2069",  # bidi isolates
    "\u200e",
    "\u200f",
    "\u061c",  # bidi marks
    "\u200b",  # zero-width space
    "\ufeff",  # zero-width no-break space
]


def raw_characters_in(text: str) -> list[str]:
    return [ch for ch in text if not ch.isprintable()]


@pytest.mark.parametrize("char", UNPRINTABLE, ids=lambda c: f"U+{ord(c):04X}")
def test_account_name_with_a_control_or_formatting_character_is_refused_escaped(
    char: str,
) -> None:
    shown = char.encode("unicode_escape").decode("ascii")
    with pytest.raises(ConfigError) as caught:
        parse_config({"regions": ["us-east-1"], "accounts": [{"name": f"prod{char}x"}]})
    (error,) = caught.value.errors
    assert error.startswith(
        f"accounts[0].name: 'prod{shown}x' contains control or invisible formatting "
        f"characters ({shown}): the name becomes the `account` label"
    )
    assert raw_characters_in(str(caught.value)) == []


def test_raw_bidi_override_in_a_file_is_refused_and_shown_escaped(tmp_path: Path) -> None:
    path = write(tmp_path, "regions: [us-east-1]\naccounts:\n  - name: \u202enoitcudorp\n")
    assert refused(path) == [
        "accounts[0].name: '\\u202enoitcudorp' contains control or invisible formatting "
        "characters (\\u202e): the name becomes the `account` label and is printed in logs "
        "and terminals; use only visible characters (line 3)"
    ]


@pytest.mark.parametrize(
    "name", ["Équipe données", "東京 production", "prod 🚀", "a-b_c.d (eu) #1", "x\u00a0y"]
)
def test_names_in_any_script_with_spaces_and_symbols_are_accepted(name: str) -> None:
    config = parse_config({"regions": ["us-east-1"], "accounts": [{"name": name}]})
    assert config.accounts[0].name == name


def test_no_error_message_echoes_a_control_character_raw() -> None:
    data = {
        "regions": ["us-east-1", "\x1b[31meu-west-1"],
        "services": ["ec2\n"],
        "refresh_interval": "1h\x1b[2J",
        "\x1b]0;title\x07": 1,
        "accounts": [
            {"name": "a\nb", "id": "111111111111"},
            {"name": "a\nb", "id": "222222222222"},
            {"name": "d", "id": "333333333333", "via": "c\u202e"},
        ],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    text = str(caught.value)
    assert raw_characters_in(text.replace("\n", "")) == []
    assert len(text.splitlines()) == len(caught.value.errors)
    assert "\\x1b]0;title\\x07: unknown key" in text
    assert "accounts[2].via: no account named 'c\\u202e'" in text
    assert "accounts[1].name: duplicate account name 'a\\nb'" in text


def test_config_error_escapes_whatever_message_it_is_given() -> None:
    error = ConfigError(["x: bad \x1b[2J\u2028value", "plain"])
    assert error.errors == ["x: bad \\x1b[2J\\u2028value", "plain"]
    assert str(error) == "x: bad \\x1b[2J\\u2028value\nplain"


# -------------------------------------------------------------------- one entry per account


def test_same_account_id_under_two_names_names_both_entries() -> None:
    data = {
        "regions": ["us-east-1"],
        "accounts": [
            {"name": "production", "role_arn": "arn:aws:iam::111111111111:role/Reader"},
            {"name": "staging", "id": "222222222222"},
            {"name": "prod-eu", "id": "111111111111", "regions": ["eu-west-1"]},
            {"name": "staging-2", "role_arn": "arn:aws-cn:iam::222222222222:role/Other"},
        ],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    advice = (
        "list each account once (else it is read and exported twice): keep one entry and "
        "give it every region and service it needs"
    )
    assert caught.value.errors == [
        "accounts[2].id: account 111111111111 is already configured as accounts[0] "
        f"('production'); {advice}",
        "accounts[3].role_arn: account 222222222222 is already configured as accounts[1] "
        f"('staging'); {advice}",
    ]


def test_accounts_without_a_written_id_are_never_duplicates() -> None:
    config = parse_config(
        {
            "regions": ["us-east-1"],
            "accounts": [
                {"name": "payer"},
                {"name": "sandbox", "profile": "sandbox"},
                {"name": "dev", "profile": "dev"},
                {"name": "production", "id": "111111111111"},
                {"name": "staging", "role_arn": "arn:aws:iam::222222222222:role/Reader"},
            ],
        }
    )
    assert [a.account_id for a in config.accounts] == [
        None,
        None,
        None,
        "111111111111",
        "222222222222",
    ]
