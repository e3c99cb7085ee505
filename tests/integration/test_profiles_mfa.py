"""Named profiles with MFA against the fake AWS's strict STS: one code per
source profile (GetSessionToken), wrong codes refused, and the daemon's
refusal to prompt."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import yaml

from exporter.aws import ClientFactory, ProfileError, account_of_arn
from exporter.aws.profiles import ProfileResolver
from exporter.commands import report
from exporter.fake import FakeAws, credentials_for
from exporter.model import Account

USER_ACCOUNT = "100000000000"  # where the IAM user and its MFA device live
PROD, STAGE, CHAINED = "222222222222", "333333333333", "555555555555"
SERIAL = f"arn:aws:iam::{USER_ACCOUNT}:mfa/alice"
CODE = "123456"
ROLE = "arn:aws:iam::{}:role/ReservationReader"
YEAR = 365 * 86400


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAws]:
    with FakeAws() as running:
        yield running


@pytest.fixture
def aws_files(server: FakeAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean fake with two MFA-protected roles, and shared config files that reach them:
    a source profile with long-term keys and two role profiles with mfa_serial."""
    server.reset()
    server.add_mfa_device(SERIAL, CODE)
    for account in (PROD, STAGE):
        server.add_role(ROLE.format(account), mfa_serial=SERIAL, trusted_account_ids=[USER_ACCOUNT])
        end = datetime(2030, 1, 1, tzinfo=timezone.utc) + timedelta(days=10)
        server.seed(
            account,
            "us-east-1",
            "rds",
            [
                {
                    "ReservedDBInstanceId": f"db-{account}",
                    "DBInstanceClass": "db.r6g.large",
                    "StartTime": end - timedelta(seconds=YEAR),
                    "Duration": YEAR,
                    "DBInstanceCount": 1,
                    "State": "active",
                }
            ],
        )
    server.add_role(ROLE.format(CHAINED), trusted_account_ids=[STAGE])
    key, secret = credentials_for(USER_ACCOUNT)
    credentials = tmp_path / "credentials"
    credentials.write_text(f"[ops]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n")
    config = tmp_path / "config"
    config.write_text(
        "[profile ops]\nregion = us-east-1\n\n"
        + "".join(
            f"[profile {name}]\nrole_arn = {ROLE.format(account)}\nsource_profile = ops\n"
            f"mfa_serial = {SERIAL}\n\n"
            for name, account in (("prod", PROD), ("stage", STAGE))
        )
        # A role profile behind an MFA-protected one: the MFA need is inherited.
        + f"[profile chained]\nrole_arn = {ROLE.format(CHAINED)}\nsource_profile = stage\n"
    )
    for key_name in list(os.environ):
        monkeypatch.delenv(key_name)
    # Environment keys of another account: an explicit profile must not use them.
    for name, value in server.env("999999999999").items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    exporter_config = tmp_path / "exporter.yaml"
    exporter_config.write_text(
        yaml.safe_dump(
            {
                "regions": ["us-east-1"],
                "services": ["rds"],
                "accounts": [
                    {"name": "prod", "profile": "prod"},
                    {"name": "stage", "profile": "stage"},
                ],
            }
        )
    )
    return exporter_config


class Prompter:
    def __init__(self, code: str) -> None:
        self.code = code
        self.prompts: list[str] = []

    def __call__(self, prompt: str) -> str:
        self.prompts.append(prompt)
        return self.code


def run_report(config: Path, prompter: Prompter) -> tuple[int, dict, str]:
    out, err = io.StringIO(), io.StringIO()
    code = report.main(
        ["--config.file", str(config), "--format", "json", "--at", "2030-01-01"],
        prompter=prompter,
        stdout=out,
        stderr=err,
    )
    return code, json.loads(out.getvalue()), err.getvalue()


def test_two_mfa_role_profiles_need_one_code(server, aws_files):
    prompter = Prompter(CODE)
    code, document, err = run_report(aws_files, prompter)
    assert code == 0, err
    assert prompter.prompts == [f"Enter MFA code for {SERIAL} (profile ops): "]
    tokens = server.calls(operation="GetSessionToken")
    assert [(c.account_id, c.outcome) for c in tokens] == [(USER_ACCOUNT, "ok")]
    assumed = server.calls(operation="AssumeRole", outcome="ok")
    assert len(assumed) == 2
    rows = [(r["account"], r["account_id"], r["reservation_id"]) for r in document["reservations"]]
    assert rows == [("prod", PROD, f"db-{PROD}"), ("stage", STAGE, f"db-{STAGE}")]


def test_a_wrong_code_is_refused_and_nothing_is_read(server, aws_files):
    prompter = Prompter("000000")
    code, document, err = run_report(aws_files, prompter)
    assert code == 3
    assert document["reservations"] == []
    assert {(f["account"], f["reason"]) for f in document["failed_targets"]} == {
        ("prod", "denied"),
        ("stage", "denied"),
    }
    assert server.calls(operation="GetSessionToken", outcome="ok") == []
    assert len(server.calls(operation="GetSessionToken", outcome="denied")) >= 1
    assert server.calls(operation="DescribeReservedDBInstances") == []
    assert "MultiFactorAuthentication failed" in err


def test_the_daemon_refuses_mfa_profiles_without_prompting(server, aws_files):
    factory = ClientFactory()  # no prompter, as in the daemon
    with pytest.raises(ProfileError, match=r"profile 'prod' needs an MFA code \(mfa_serial\)"):
        factory.session_for(Account(name="prod", profile="prod"))
    with pytest.raises(ProfileError, match="through its source profile 'stage'"):
        factory.session_for(Account(name="c", profile="chained"))
    assert server.calls(service="sts") == []


def test_role_profiles_without_mfa_work_in_the_daemon(server, aws_files, tmp_path):
    server.add_role(ROLE.format("444444444444"), trusted_account_ids=[USER_ACCOUNT])
    config = Path(os.environ["AWS_CONFIG_FILE"])
    config.write_text(
        config.read_text()
        + f"\n[profile plain]\nrole_arn = {ROLE.format('444444444444')}\nsource_profile = ops\n"
        "role_session_name = reader\n"
    )
    factory = ClientFactory()
    session = factory.session_for(Account(name="plain", profile="plain"))
    sts = factory.client(session, "sts", "us-east-1")
    assert sts.get_caller_identity()["Arn"] == (
        "arn:aws:sts::444444444444:assumed-role/ReservationReader/reader"
    )


def test_chained_profile_behind_mfa_asks_once(server, aws_files):
    prompter = Prompter(CODE)
    factory = ClientFactory(mfa_prompter=prompter)
    for name in ("chained", "stage", "prod"):
        session = factory.session_for(Account(name=name, profile=name))
        factory.client(session, "sts", "us-east-1").get_caller_identity()
    assert len(prompter.prompts) == 1
    assert len(server.calls(operation="GetSessionToken", outcome="ok")) == 1


def test_source_profile_loops_are_reported(tmp_path, monkeypatch):
    config = tmp_path / "config"
    config.write_text(
        "[profile a]\nrole_arn = arn:aws:iam::111111111111:role/A\nsource_profile = b\n"
        "[profile b]\nrole_arn = arn:aws:iam::111111111111:role/B\nsource_profile = a\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    import botocore.session

    resolver = ProfileResolver(lambda profile: botocore.session.Session(profile=profile))
    with pytest.raises(ProfileError, match="source_profile loop: a -> b -> a"):
        resolver.credentials("a")
    with pytest.raises(ProfileError, match="'missing' is not defined"):
        resolver.credentials("missing")


def test_report_reads_the_code_from_stdin_when_piped(server, aws_files):
    """The real CLI in a subprocess: the prompt goes to stderr, stdout stays JSON."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "exporter",
            "report",
            "--config.file",
            str(aws_files),
            "--format",
            "json",
            "--at",
            "2030-01-01",
        ],
        input=f"{CODE}\n",
        capture_output=True,
        text=True,
        env=dict(os.environ),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert f"Enter MFA code for {SERIAL}" in result.stderr
    ids = [r["reservation_id"] for r in json.loads(result.stdout)["reservations"]]
    assert ids == [f"db-{PROD}", f"db-{STAGE}"]
    assert len(server.calls(operation="GetSessionToken", outcome="ok")) == 1


def add_profile(text: str) -> None:
    config = Path(os.environ["AWS_CONFIG_FILE"])
    config.write_text(config.read_text() + "\n" + text)


def test_environment_keys_as_credential_source_also_ask_once(server, aws_files, monkeypatch):
    key, secret = credentials_for(USER_ACCOUNT)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", secret)
    for name, account in (("env-prod", PROD), ("env-stage", STAGE)):
        add_profile(
            f"[profile {name}]\nrole_arn = {ROLE.format(account)}\n"
            f"credential_source = Environment\nmfa_serial = {SERIAL}\n"
        )
    prompter = Prompter(CODE)
    factory = ClientFactory(mfa_prompter=prompter)
    arns = []
    for name in ("env-prod", "env-stage"):
        session = factory.session_for(Account(name=name, profile=name))
        arns.append(factory.client(session, "sts", "us-east-1").get_caller_identity()["Arn"])
    assert [account_of_arn(arn) for arn in arns] == [PROD, STAGE]
    assert prompter.prompts == [f"Enter MFA code for {SERIAL} (credential_source Environment): "]
    assert len(server.calls(operation="GetSessionToken", outcome="ok")) == 1


def test_temporary_source_credentials_send_the_code_with_assume_role(server, aws_files):
    """GetSessionToken refuses session credentials: each such profile asks for its own code."""
    deep = ROLE.format("666666666666")
    server.add_role(ROLE.format("444444444444"), trusted_account_ids=[USER_ACCOUNT])
    server.add_role(deep, mfa_serial=SERIAL, trusted_account_ids=["444444444444"])
    add_profile(
        f"[profile hop]\nrole_arn = {ROLE.format('444444444444')}\nsource_profile = ops\n\n"
        f"[profile deep]\nrole_arn = {deep}\nsource_profile = hop\nmfa_serial = {SERIAL}\n"
    )
    prompter = Prompter(CODE)
    factory = ClientFactory(mfa_prompter=prompter)
    session = factory.session_for(Account(name="deep", profile="deep"))
    caller = factory.client(session, "sts", "us-east-1").get_caller_identity()
    assert caller["Account"] == "666666666666"
    assert prompter.prompts == [f"Enter MFA code for {SERIAL} (profile deep): "]
    assert server.calls(operation="GetSessionToken") == []
