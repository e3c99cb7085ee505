"""The config module's functions: durations, loading edge cases, parse_config on data."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.config import ConfigError, format_duration, load_config, parse_config, parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("30s", 30.0),
        ("15m", 900.0),
        ("1h", 3600.0),
        ("1d", 86400.0),
        ("2w", 1209600.0),
        ("1h30m", 5400.0),
        ("1.5h", 5400.0),
        ("90", 90.0),
        (" 45s ", 45.0),
        (90, 90.0),
        (2.5, 2.5),
    ],
)
def test_parse_duration_returns_seconds(text: str | int | float, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0s", "must be greater than zero; got 0s"),
        (0, "must be greater than zero; got 0"),
        ("-1h", "must not be negative; got -1h"),
        (-5, "must not be negative; got -5"),
        ("1y", "unknown unit 'y' in '1y'; use s, m, h, d or w (for a year write 365d)"),
        ("1H", "unknown unit 'H' in '1H'; use s, m, h, d or w"),
        (
            "abc",
            "'abc' is not a duration; use a number and a unit: s, m, h, d or w "
            "(e.g. 30s, 15m, 1h, 30d)",
        ),
        ("", "empty duration; use a number and a unit: s, m, h, d or w (e.g. 30s, 15m, 1h, 30d)"),
        (
            True,
            "expected a duration; use a number and a unit: s, m, h, d or w "
            "(e.g. 30s, 15m, 1h, 30d)",
        ),
        (
            float("nan"),
            "expected a duration; use a number and a unit: s, m, h, d or w "
            "(e.g. 30s, 15m, 1h, 30d)",
        ),
    ],
)
def test_parse_duration_rejects_with_a_message_for_people(
    text: str | int | float, message: str
) -> None:
    with pytest.raises(ValueError) as caught:
        parse_duration(text)
    assert str(caught.value) == message


def test_parse_duration_allows_zero_only_when_asked() -> None:
    assert parse_duration("0s", allow_zero=True) == 0.0
    with pytest.raises(ValueError):
        parse_duration("-1s", allow_zero=True)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (90, "1m30s"), (3600, "1h"), (5400, "1h30m"), (2592000, "30d"), (1.5, "1.5s")],
)
def test_format_duration_writes_the_short_form(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_missing_file_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.errors == [
        f"{path}: no such file; start from config.example.yaml, or point --config.file at "
        "your config"
    ]
    assert caught.value.source == str(path)


def test_directory_is_not_a_config_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path)
    assert caught.value.errors == [f"{tmp_path}: is a directory, not a config file"]


def test_file_that_is_not_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"regions: [us-east-1]\naccounts:\n  - name: caf\xe9\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.errors == [f"{path}: not UTF-8 text (line 3); save the file as UTF-8"]


def test_several_yaml_documents_are_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text("regions: [us-east-1]\n---\nregions: [eu-west-1]\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.errors == [
        f"{path}:2:1: YAML syntax error: but found another document "
        "(expected a single document in the stream on line 1)"
    ]


def test_yaml_merge_keys_share_settings_between_accounts(tmp_path: Path) -> None:
    path = tmp_path / "merge.yaml"
    path.write_text(
        "regions: [us-east-1]\n"
        "accounts:\n"
        "  - &prod {name: production, id: '111111111111', external_id: shared-external}\n"
        "  - <<: *prod\n"
        "    name: staging\n"
        "    id: '222222222222'\n",
        encoding="utf-8",
    )
    config = load_config(path)
    staging = config.account("staging")
    assert staging is not None
    assert (staging.id, staging.external_id) == ("222222222222", "shared-external")


def test_key_yaml_reads_as_a_boolean_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "on.yaml"
    path.write_text("regions: [us-east-1]\naccounts:\n  - name: payer\n    on: yes\n", "utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.errors == [
        "accounts[0]: key true is not text (YAML reads unquoted yes/no/on/off/true/false as "
        "booleans); quote it or fix its name (line 4)"
    ]


def test_parse_config_reports_paths_without_line_numbers() -> None:
    data = {
        "regions": ["us-east-1"],
        "concurrency": 0,
        "accounts": [{"name": "production", "role_arn": "arn:aws:iam::1:role/x"}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.errors == [
        "concurrency: must be from 1 to 512 worker threads; got 0",
        "accounts[0].role_arn: not a valid IAM role ARN: expected arn:<aws|aws-cn|aws-us-gov>"
        ":iam::<12-digit account id>:role/<name>, e.g. "
        "arn:aws:iam::111111111111:role/ReservationExporter",
    ]
    assert str(caught.value) == "\n".join(caught.value.errors)


def test_parse_config_names_its_source_for_file_level_errors() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(None, source="from-configmap")
    assert caught.value.errors == [
        "from-configmap: the file is empty; it needs at least `regions` and `accounts` "
        "(see config.example.yaml)"
    ]
    with pytest.raises(ConfigError) as caught:
        parse_config("regions: all", source="inline")
    assert caught.value.errors == [
        "inline: the top level must be a mapping of settings (regions: ..., accounts: ...), "
        "not a string"
    ]


def test_parse_config_accepts_plain_data() -> None:
    config = parse_config(
        {
            "regions": "all",
            "services": ["ec2"],
            "refresh_interval": "15m",
            "accounts": [{"name": "production", "id": "111111111111"}],
        }
    )
    assert (config.regions, config.services, config.refresh_interval) == ("all", ("ec2",), 900.0)
    assert config.accounts[0].account_id == "111111111111"


@pytest.mark.parametrize(
    "key", ["password", "aws_session_token", "SecretAccessKey", "access-key", "api_key"]
)
def test_any_key_named_like_a_credential_is_rejected(key: str) -> None:
    data = {"regions": ["us-east-1"], "accounts": [{"name": "payer"}], "defaults": {key: "x"}}
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.errors == [
        f"defaults.{key}: credentials never belong in the config file; use the standard AWS "
        "credential chain (env, shared files, IRSA, instance role)"
    ]


def test_access_key_id_is_found_inside_any_string() -> None:
    data = {
        "regions": ["us-east-1"],
        "accounts": [{"name": "key ASIAABCDEFGHIJKLMNOP here"}],
    }
    with pytest.raises(ConfigError) as caught:
        parse_config(data)
    assert caught.value.errors == [
        "accounts[0].name: looks like an AWS access key id; credentials never belong in the "
        "config file; use the standard AWS credential chain (env, shared files, IRSA, "
        "instance role)"
    ]


def test_utf8_byte_order_mark_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes(b"\xef\xbb\xbfregions: [us-east-1]\naccounts:\n  - name: payer\n")
    assert load_config(path).regions == ("us-east-1",)
