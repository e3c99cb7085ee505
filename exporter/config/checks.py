"""Rules no single field can check: credentials anywhere in the file, and the accounts
as a list (unique names and ids, one own-credentials account, ``via`` chains and their
session durations).

Each rule adds ``Problem``s and goes on, so one file shows every mistake at once.
"""

from __future__ import annotations

import re
from typing import Any

from exporter.config.durations import format_duration
from exporter.config.errors import Path, Problem, did_you_mean
from exporter.config.fields import ACCOUNT_ID_RE, ROLE_ARN_RE
from exporter.config.model import AccountConfig, Defaults

__all__ = ["MAX_CHAINED_SESSION_SECONDS", "check_accounts", "scan_for_credentials"]

# AWS caps a chained role session (a role assumed from a role's session) at 1 h.
MAX_CHAINED_SESSION_SECONDS = 3600

_ACCESS_KEY_RE = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_CREDENTIAL_KEY_RE = re.compile(
    r"secret|passw(?:or)?d|token|access_?key|credential|private_?key|api_?key"
)
_CREDENTIALS_ADVICE = (
    "credentials never belong in the config file; use the standard AWS credential chain "
    "(env, shared files, IRSA, instance role)"
)


def scan_for_credentials(
    node: Any, path: Path, problems: list[Problem], active: set[int]
) -> list[Path]:
    """Find credential-like keys, access-key-like values and non-text keys anywhere.

    Returns the paths reported, whose other problems are then left out. Never echoes
    a credential."""
    banned: list[Path] = []
    if id(node) in active:
        return banned
    if isinstance(node, dict):
        active.add(id(node))
        for key, value in node.items():
            child = (*path, key)
            if not isinstance(key, str):
                problems.append(Problem(path, _non_text_key(key), line_path=child))
                banned.append(child)
            elif _ACCESS_KEY_RE.search(key):
                problems.append(
                    Problem(
                        path, f"a key here looks like an AWS access key id; {_CREDENTIALS_ADVICE}"
                    )
                )
                banned.append(child)
            elif _CREDENTIAL_KEY_RE.search(key.lower().replace("-", "_")):
                problems.append(Problem(child, _CREDENTIALS_ADVICE))
                banned.append(child)
            else:
                banned += scan_for_credentials(value, child, problems, active)
        active.discard(id(node))
    elif isinstance(node, list):
        active.add(id(node))
        for index, item in enumerate(node):
            banned += scan_for_credentials(item, (*path, index), problems, active)
        active.discard(id(node))
    elif isinstance(node, str) and _ACCESS_KEY_RE.search(node):
        problems.append(Problem(path, f"looks like an AWS access key id; {_CREDENTIALS_ADVICE}"))
        banned.append(path)
    return banned


def _non_text_key(key: Any) -> str:
    if isinstance(key, bool):
        shown = "true" if key else "false"
        why = "YAML reads unquoted yes/no/on/off/true/false as booleans"
    else:
        shown, why = f"{key}", "YAML reads it as a value, not a name"
    return f"key {shown} is not text ({why}); quote it or fix its name"


def check_accounts(
    accounts: list[tuple[int, AccountConfig]],
    raw_accounts: list[Any],
    defaults: Defaults | None,
    problems: list[Problem],
) -> None:
    """Rules that span fields or accounts: credentials source, names, role chaining."""
    # Names come from the raw list, so an account with another error still counts.
    first_index: dict[str, int] = {}
    for index, item in enumerate(raw_accounts):
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str):
            continue
        if name in first_index:
            problems.append(
                Problem(
                    ("accounts", index, "name"),
                    f"duplicate account name '{name}' (also accounts[{first_index[name]}]); "
                    "names must be unique because they become the `account` label",
                )
            )
        else:
            first_index[name] = index
    _check_duplicate_ids(raw_accounts, problems)
    raw_names = set(first_index)
    by_name = {a.name: (i, a) for i, a in accounts if first_index.get(a.name) == i}
    own: tuple[int, AccountConfig] | None = None
    for index, account in accounts:
        path: Path = ("accounts", index)
        _check_one_account(account, path, problems)
        if account.uses_own_credentials and account.via is None:
            if own is None:
                own = (index, account)
            else:
                problems.append(
                    Problem(
                        path,
                        "only one account may use the exporter's own credentials (no role_arn, "
                        f"id or profile); accounts[{own[0]}] ('{own[1].name}') already does: "
                        "add role_arn, id or profile",
                    )
                )

    for index, account in accounts:
        if account.via is None or account.profile is not None:
            continue
        path = ("accounts", index, "via")
        source = by_name.get(account.via)
        if account.via == account.name:
            problems.append(Problem(path, "an account cannot chain through itself"))
        elif account.via not in raw_names:
            hint = did_you_mean(account.via, frozenset(raw_names - {account.name}))
            problems.append(
                Problem(
                    path,
                    f"no account named '{account.via}'{hint}; via must name another account "
                    "in this list",
                )
            )
        elif source is not None and source[1].uses_own_credentials and source[1].via is None:
            problems.append(
                Problem(
                    path,
                    f"'{account.via}' uses the exporter's own credentials, which roles are "
                    "assumed from anyway; remove via",
                )
            )
        _check_chained_duration(account, index, defaults, problems)

    _check_via_cycles(accounts, by_name, problems)


def _raw_account_id(item: Any) -> tuple[str, str] | None:
    """``(key, id)``: the 12-digit id an account entry names, from ``id`` else ``role_arn``."""
    if not isinstance(item, dict):
        return None
    written = item.get("id")
    if isinstance(written, str) and ACCOUNT_ID_RE.fullmatch(written):
        return "id", written
    arn = item.get("role_arn")
    match = ROLE_ARN_RE.fullmatch(arn) if isinstance(arn, str) else None
    return ("role_arn", match.group(2)) if match else None


def _check_duplicate_ids(raw_accounts: list[Any], problems: list[Problem]) -> None:
    """One entry per AWS account: a second one would read it and export it twice."""
    first_index: dict[str, int] = {}
    for index, item in enumerate(raw_accounts):
        found = _raw_account_id(item)
        if found is None:
            continue
        key, account_id = found
        if account_id not in first_index:
            first_index[account_id] = index
            continue
        first = first_index[account_id]
        name = raw_accounts[first].get("name")
        named = f" ({name!r})" if isinstance(name, str) else ""
        problems.append(
            Problem(
                ("accounts", index, key),
                f"account {account_id} is already configured as accounts[{first}]{named}; "
                "list each account once (else it is read and exported twice): keep one entry "
                "and give it every region and service it needs",
            )
        )


def _check_one_account(account: AccountConfig, path: Path, problems: list[Problem]) -> None:
    if account.profile is not None:
        for key in ("id", "role_arn", "via"):
            if getattr(account, key) is not None:
                problems.append(
                    Problem(
                        (*path, key),
                        "cannot be combined with profile: the profile already says how to reach "
                        "the account; keep one of them",
                    )
                )
    if not account.assumes_role:
        why = (
            f"profile '{account.profile}' sets its own in ~/.aws/config; remove this key"
            if account.profile is not None
            else "this account uses the exporter's own credentials: add role_arn or id, "
            "or remove this key"
        )
        for key in ("external_id", "session_name", "session_duration"):
            if getattr(account, key) is not None:
                problems.append(
                    Problem((*path, key), f"only applies when assuming a role, and {why}")
                )
        if account.via is not None and account.profile is None:
            problems.append(
                Problem(
                    (*path, "via"),
                    "needs role_arn or id on this account: via names the account whose session "
                    "assumes this account's role",
                )
            )
    if account.id is not None and account.role_arn is not None:
        arn_id = ROLE_ARN_RE.fullmatch(account.role_arn).group(2)  # type: ignore[union-attr]
        if arn_id != account.id:
            problems.append(
                Problem(
                    (*path, "id"),
                    f"does not match the account id in role_arn ({arn_id}); make them agree or "
                    "keep only role_arn",
                )
            )


def _check_chained_duration(
    account: AccountConfig, index: int, defaults: Defaults | None, problems: list[Problem]
) -> None:
    if not account.assumes_role:
        return
    if account.session_duration is not None:
        if account.session_duration > MAX_CHAINED_SESSION_SECONDS:
            problems.append(
                Problem(
                    ("accounts", index, "session_duration"),
                    "must be 1h or less: this account is reached by role chaining (via) and AWS "
                    f"caps chained sessions at 1h; got {format_duration(account.session_duration)}",
                )
            )
    elif defaults is not None and defaults.session_duration > MAX_CHAINED_SESSION_SECONDS:
        problems.append(
            Problem(
                ("accounts", index, "via"),
                "role chaining caps sessions at 1h but defaults.session_duration is "
                f"{format_duration(defaults.session_duration)}; set session_duration: 1h "
                "on this account",
            )
        )


def _check_via_cycles(
    accounts: list[tuple[int, AccountConfig]],
    by_name: dict[str, tuple[int, AccountConfig]],
    problems: list[Problem],
) -> None:
    # Each account is followed once (linear even for a chain of thousands): "open" while
    # on the chain being followed, "done" once its chain is known to end or loop.
    state: dict[str, str] = {}
    for _, start in accounts:
        chain: list[str] = []
        current = start
        while current.name not in state:
            state[current.name] = "open"
            chain.append(current.name)
            if current.via is None or current.via not in by_name or current.via == current.name:
                break
            current = by_name[current.via][1]
        else:
            if state[current.name] == "open":
                loop = chain[chain.index(current.name) :]
                # Report once, at the member listed first, starting the ring there.
                pivot = min(range(len(loop)), key=lambda i: by_name[loop[i]][0])
                ring = loop[pivot:] + loop[:pivot]
                problems.append(
                    Problem(
                        ("accounts", by_name[ring[0]][0], "via"),
                        f"role chain loops: {' -> '.join([*ring, ring[0]])}; a chain must "
                        "start at an account without via",
                    )
                )
        for name in chain:
            state[name] = "done"
