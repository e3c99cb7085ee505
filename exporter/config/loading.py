"""Loading a config: read the file, validate every section and account, apply the checks,
and report every problem at once as one ``ConfigError`` (or log what is only a warning).
"""

from __future__ import annotations

import logging
import os
from typing import Any

from pydantic import BaseModel

from exporter.config.checks import check_accounts, scan_for_credentials
from exporter.config.durations import format_duration
from exporter.config.errors import ConfigError, Path, Problem, render
from exporter.config.model import (
    AccountConfig,
    Config,
    CostExplorer,
    Defaults,
    Organizations,
    Renewal,
    validate,
)
from exporter.config.reading import MAX_DEPTH, YamlError, read_yaml

__all__ = ["MAX_CONFIG_BYTES", "load_config", "parse_config"]

# The package's logger by name: `report` and `doctor` filter its daemon-only warnings.
log = logging.getLogger("exporter.config")

MAX_CONFIG_BYTES = 1024 * 1024  # also the most a Kubernetes ConfigMap holds
# Shorter refresh intervals are allowed, but list every target that often.
SHORT_REFRESH_SECONDS = 300


def load_config(path: str | os.PathLike[str]) -> Config:
    """Read and validate a YAML config file. Raises ``ConfigError`` listing every problem."""
    source = os.fspath(path)
    try:
        with open(source, "rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)  # never more: the path may be /dev/zero
        if len(raw) > MAX_CONFIG_BYTES:
            raise ConfigError([_too_large(source)], source)
        text = raw.decode("utf-8-sig")  # editors on Windows may add a BOM
    except FileNotFoundError:
        raise ConfigError(
            [
                f"{source}: no such file; start from config.example.yaml, or point "
                "--config.file at your config"
            ],
            source,
        ) from None
    except IsADirectoryError:
        raise ConfigError([f"{source}: is a directory, not a config file"], source) from None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            [f"{source}: not UTF-8 text (line {line}); save the file as UTF-8"], source
        ) from None
    except OSError as exc:
        raise ConfigError([f"{source}: cannot read: {exc.strerror}"], source) from None
    try:
        document = read_yaml(text, many_values_advice=_MANY_VALUES_ADVICE)
    except YamlError as exc:
        where = source if exc.line is None else f"{source}:{exc.line}:{exc.column}"
        raise ConfigError([f"{where}: {exc}"], source) from None
    duplicates = [
        Problem(
            duplicate.path,
            f"duplicate key (first on line {duplicate.first_line}); YAML would silently keep "
            "only the last one, so remove one of them",
            duplicate.line,
        )
        for duplicate in document.duplicates
    ]
    return _parse_bounded(document.data, source, document.lines, duplicates)


def parse_config(data: Any, source: str = "<config>") -> Config:
    """Validate already-loaded data (e.g. ``yaml.safe_load`` output). Raises ``ConfigError``."""
    return _parse_bounded(data, source, {}, [])


_MANY_VALUES_ADVICE = "list thousands of accounts through organizations discovery instead"


def _too_large(source: str) -> str:
    return (
        f"{source}: larger than {MAX_CONFIG_BYTES // 1024 // 1024} MiB, far more than a config "
        "needs (and more than a Kubernetes ConfigMap holds); check that this is the config "
        f"file, and {_MANY_VALUES_ADVICE}"
    )


def _parse_bounded(
    data: Any, source: str, lines: dict[Path, int], problems: list[Problem]
) -> Config:
    """``_parse``, with data nested too deeply to walk reported instead of crashing.

    A file cannot get here that deep (``read_yaml``); data given to ``parse_config``
    can.
    """
    try:
        return _parse(data, source, lines, problems)
    except RecursionError:
        raise ConfigError(
            [
                f"{source}: lists or mappings nested too deeply to check; a config needs "
                f"only a few levels (files are refused past {MAX_DEPTH})"
            ],
            source,
        ) from None


_SECTIONS = ("defaults", "organizations", "renewal", "cost_explorer", "accounts")


def _parse(data: Any, source: str, lines: dict[Path, int], early: list[Problem]) -> Config:
    if data is None:
        raise ConfigError(
            [
                f"{source}: the file is empty; it needs at least `regions` and `accounts` "
                "(see config.example.yaml)"
            ],
            source,
        )
    if not isinstance(data, dict):
        raise ConfigError(
            [
                f"{source}: the top level must be a mapping of settings (regions: ..., "
                f"accounts: ...), not {_kind(data)}"
            ],
            source,
        )
    secrets: list[Problem] = []
    banned = scan_for_credentials(data, (), secrets, set())
    problems: list[Problem] = []

    values: dict[str, Any] = {k: v for k, v in data.items() if k not in _SECTIONS}
    sections: dict[str, BaseModel | None] = {}
    for name, model in (
        ("defaults", Defaults),
        ("organizations", Organizations),
        ("renewal", Renewal),
        ("cost_explorer", CostExplorer),
    ):
        raw = data.get(name)
        if raw is None:  # absent, or every sub-key commented out
            sections[name] = model()
        elif not isinstance(raw, dict):
            problems.append(Problem((name,), f"must be a mapping of settings, not {_kind(raw)}"))
            sections[name] = None
        else:
            sections[name] = validate(model, raw, (name,), problems)
        if sections[name] is not None:
            values[name] = sections[name]

    accounts, accounts_readable = _validate_accounts(data.get("accounts"), problems)
    values["accounts"] = tuple(account for _, account in accounts)
    config = validate(Config, values, (), problems)

    defaults = sections["defaults"]
    organizations = sections["organizations"]
    check_accounts(
        accounts,
        (data.get("accounts") or []) if accounts_readable else [],
        defaults if isinstance(defaults, Defaults) else None,
        problems,
    )
    if (
        accounts_readable
        and not data.get("accounts")
        and isinstance(organizations, Organizations)
        and not organizations.enabled
    ):
        problems.append(
            Problem(
                ("accounts",),
                "list at least one account (an entry with only `name` uses the exporter's own "
                "credentials), or turn on organizations.enabled",
            )
        )

    problems = secrets + [p for p in problems + early if not _is_under(p.path, banned)]
    if problems or config is None:
        raise ConfigError(render(problems, lines, list(data)), source)
    _log_warnings(config)
    return config


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return f"a {type(value).__name__}"


def _validate_accounts(
    raw: Any, problems: list[Problem]
) -> tuple[list[tuple[int, AccountConfig]], bool]:
    """Each account on its own, so one bad account does not hide the others' problems."""
    if raw is None:
        return [], True
    if not isinstance(raw, list):
        problems.append(
            Problem(("accounts",), f"must be a list of accounts (- name: ...), not {_kind(raw)}")
        )
        return [], False
    accounts: list[tuple[int, AccountConfig]] = []
    for index, item in enumerate(raw):
        path: Path = ("accounts", index)
        if not isinstance(item, dict):
            problems.append(
                Problem(
                    path,
                    f"each account must be a mapping like `- name: production` "
                    f"(with role_arn, id or profile), not {_kind(item)}",
                )
            )
            continue
        account = validate(AccountConfig, item, path, problems)
        if account is not None:
            accounts.append((index, account))
    return accounts, True


def _is_under(path: Path, roots: list[Path]) -> bool:
    return any(path[: len(root)] == root for root in roots)


def _log_warnings(config: Config) -> None:
    if config.refresh_interval < SHORT_REFRESH_SECONDS:
        log.warning(
            "refresh_interval is %s: under 5m every account, region and service is listed "
            "that often, which costs API calls and invites throttling",
            format_duration(config.refresh_interval),
        )
