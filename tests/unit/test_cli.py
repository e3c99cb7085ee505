"""Command-line parsing: flags, shards, exit codes."""

from __future__ import annotations

import argparse
import time

import pytest

from exporter import __version__
from exporter.commands.daemon import parse_shard, serve_parser
from exporter.commands.main import main
from tests.support import CONFIGS


def test_defaults_match_the_documented_contract():
    opts = serve_parser().parse_args([])
    assert opts.config_file == "config.yaml"
    assert opts.listen_address == ":9725"
    assert (opts.log_level, opts.log_format) == ("info", "text")
    assert (opts.shard, opts.total_shards) == (0, 1)
    assert not opts.enable_lifecycle and not opts.check_config and not opts.demo


def test_dotted_flags():
    opts = serve_parser().parse_args(
        [
            "--config.file=/etc/x.yaml",
            "--web.listen-address=127.0.0.1:1234",
            "--web.config.file=web.yaml",
            "--web.enable-lifecycle",
            "--log.level=debug",
            "--log.format=json",
            "--shard=2",
            "--total-shards=5",
        ]
    )
    assert opts.config_file == "/etc/x.yaml"
    assert opts.listen_address == "127.0.0.1:1234"
    assert opts.web_config_file == "web.yaml"
    assert opts.enable_lifecycle
    assert (opts.log_level, opts.log_format, opts.shard, opts.total_shards) == (
        "debug",
        "json",
        2,
        5,
    )


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert f"aws-reservation-exporter {__version__}" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["--shard=3", "--total-shards=3"], ["--total-shards=0"]])
def test_shard_out_of_range_is_a_usage_error(argv):
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 2


def test_shard_auto_prefers_the_pod_index_then_the_hostname_suffix():
    assert parse_shard("auto", {"POD_INDEX": "4", "HOSTNAME": "exporter-1"}) == 4
    assert parse_shard("auto", {"POD_INDEX": "", "HOSTNAME": "exporter-12"}) == 12
    assert parse_shard("7", {}) == 7
    with pytest.raises(argparse.ArgumentTypeError):
        parse_shard("auto", {"HOSTNAME": "exporter"})
    with pytest.raises(argparse.ArgumentTypeError):
        parse_shard("one", {})


def test_missing_config_file_exits_2(tmp_path, capsys):
    assert main([f"--config.file={tmp_path / 'nope.yaml'}", "--check-config"]) == 2
    assert "no such file" in capsys.readouterr().err


def test_check_config_refuses_a_billion_laughs_quickly_with_exit_2(capsys):
    path = CONFIGS / "yaml-billion-laughs.bad.yaml"
    started = time.monotonic()
    assert main([f"--config.file={path}", "--check-config"]) == 2
    assert time.monotonic() - started < 5  # refused, never expanded
    err = capsys.readouterr().err
    assert "yaml-billion-laughs.bad.yaml:12:35: refused: with alias *lol4" in err


def test_check_config_on_the_example_exits_0(capsys):
    assert main(["--config.file=config.example.yaml", "--check-config"]) == 0


def test_bad_listen_address_exits_2(capsys):
    assert main(["--config.file=config.example.yaml", "--web.listen-address=nope"]) == 2
    assert "--web.listen-address" in capsys.readouterr().err


def test_bad_web_config_exits_2(tmp_path, capsys):
    web = tmp_path / "web.yaml"
    web.write_text("tls_server_config:\n  cert_file: a\nunknown: 1\n")
    code = main(["--config.file=config.example.yaml", f"--web.config.file={web}"])
    assert code == 2
    assert "unknown" in capsys.readouterr().err
