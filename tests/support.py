"""Helpers every test package shares, each defined once: where things are, the
exporter's own account, a free port, /metrics text parsed into samples, and the
credentials the in-process fake issued (to prove none leaks)."""

from __future__ import annotations

import socket
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent  # the repository
CONFIGS = TESTS / "configs"  # exporter configs: <case>.ok.yaml, <case>.bad.yaml
WEBCONFIGS = TESTS / "webconfigs"  # web configs, same naming
GOLDEN = TESTS / "golden"  # reviewed expected outputs

OWN_ACCOUNT = "111111111111"  # the account the exporter's own credentials belong to

# A sample's identity: its name and its labels.
Series = tuple[str, frozenset[tuple[str, str]]]


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def parse_samples(text: str) -> dict[Series, float]:
    """Every sample of an exposition by (name, labels), in the text's order.

    A series that appears twice fails the test: an exposition must not
    repeat one."""
    out: dict[Series, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            key = (s.name, frozenset(s.labels.items()))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def samples_named(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    """(labels, value) of each sample called ``name``, in the text's order."""
    return [
        (dict(labels), value)
        for (sample, labels), value in parse_samples(text).items()
        if sample == name
    ]


def issued_secrets() -> set[str]:
    """Every temporary credential the in-process fake handed out: each assumed
    role's access key id, secret key and session token."""
    from moto.sts.models import sts_backends

    secrets: set[str] = set()
    for account_id in sts_backends:
        for partition in sts_backends[account_id]:
            for role in sts_backends[account_id][partition].assumed_roles:
                secrets.update({role.access_key_id, role.session_token, role.secret_access_key})
    return secrets


def leaked_fragments(text: str, secrets: set[str], size: int = 12) -> set[str]:
    """Each ``size``-character piece of a secret that appears in ``text``: a
    cut answer may show a secret only in part."""
    return {
        secret[i : i + size]
        for secret in secrets
        for i in range(max(1, len(secret) - size + 1))
        if secret[i : i + size] in text
    }


def assert_no_issued_secret(text: str) -> None:
    """``text`` holds no piece of any credential the fake really issued (the
    spoiled answers' too), not just the shapes a pattern knows."""
    secrets = issued_secrets()
    assert len(secrets) >= 3  # at least one role's key id, secret and token
    assert leaked_fragments(text, secrets) == set()
