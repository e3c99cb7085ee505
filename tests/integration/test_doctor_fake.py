"""`doctor` against the fake AWS over HTTP: a refused role (wrong ExternalId),
a denied action, regions: all, Organizations discovery, MFA, and the IAM
statements it prints."""

from __future__ import annotations

import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import botocore.session
import pytest
import yaml

from exporter.commands import doctor
from exporter.commands.doctor import principal_of, read_policy
from exporter.fake import FakeAws, credentials_for
from exporter.services import REGISTRY
from tests.support import OWN_ACCOUNT, ROOT

PROD, STAGING, MEMBER = "222222222222", "333333333333", "444444444444"
ROLE = "arn:aws:iam::{}:role/ReservationExporter"


@pytest.fixture
def fake(isolated_fake: FakeAws) -> FakeAws:
    return isolated_fake


def write_config(tmp_path: Path, **overrides) -> str:
    config = {
        "regions": ["us-east-1", "eu-west-1"],
        "services": ["ec2", "rds", "savingsplans"],
        "accounts": [
            {"name": "payer"},
            {"name": "production", "role_arn": ROLE.format(PROD), "external_id": "wrong-id"},
            {"name": "staging", "id": STAGING},
        ],
        **overrides,
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def run(*argv: str, prompter=None) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = doctor.main(list(argv), prompter=prompter, stdout=out, stderr=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def broken(fake: FakeAws, tmp_path: Path) -> str:
    """production's role wants another ExternalId; staging may not list RDS reservations."""
    fake.add_role(ROLE.format(PROD), external_id="right-id", trusted_account_ids=[OWN_ACCOUNT])
    fake.add_role(ROLE.format(STAGING), trusted_account_ids=[OWN_ACCOUNT])
    fake.deny(STAGING, "rds:DescribeReservedDBInstances")
    return write_config(tmp_path)


def checks_of(document: dict) -> set[tuple[str, str, str, str]]:
    return {(c["account"], c["check"], c["status"], c["where"]) for c in document["checks"]}


def test_json_names_the_refused_role_and_the_denied_action(fake, broken):
    code, out, _ = run("--config.file", broken, "--format", "json")
    assert code == 1
    document = json.loads(out)
    identity = fake.client("sts", OWN_ACCOUNT).get_caller_identity()["Arn"]
    assert document["ok"] is False
    assert document["identity"] == identity
    assert checks_of(document) == {
        ("payer", "own credentials", "ok", ""),
        ("payer", "ec2:DescribeReservedInstances", "ok", "us-east-1, eu-west-1"),
        ("payer", "rds:DescribeReservedDBInstances", "ok", "us-east-1, eu-west-1"),
        ("payer", "savingsplans:DescribeSavingsPlans", "ok", "global"),
        ("production", "sts:AssumeRole role/ReservationExporter", "denied", ""),
        ("production", "read calls", "not checked", "no credentials"),
        ("staging", "sts:AssumeRole role/ReservationExporter", "ok", ""),
        ("staging", "ec2:DescribeReservedInstances", "ok", "us-east-1, eu-west-1"),
        ("staging", "rds:DescribeReservedDBInstances", "denied", "us-east-1, eu-west-1"),
        ("staging", "savingsplans:DescribeSavingsPlans", "ok", "global"),
    }
    role_fix, action_fix = document["fixes"]
    assert role_fix["account"] == "production"
    assert role_fix["problem"] == f"cannot assume {ROLE.format(PROD)}"
    assert "not authorized to perform: sts:AssumeRole" in role_fix["aws_message"]
    # AWS's one AccessDenied covers several causes: all are listed, ExternalId among them.
    assert len(role_fix["causes"]) == 5
    assert any("sts:ExternalId different from the one configured" in c for c in role_fix["causes"])
    assert any("MultiFactorAuthPresent" in c for c in role_fix["causes"])
    assert role_fix["trust_statement"] == {
        "Effect": "Allow",
        "Principal": {"AWS": principal_of(identity)},
        "Action": "sts:AssumeRole",
        "Condition": {
            "StringEquals": {"sts:ExternalId": "<external_id configured for production>"}
        },
    }
    assert role_fix["policy"]["Statement"] == [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE.format(PROD)}
    ]
    assert action_fix["account"] == "staging"
    assert action_fix["attach_to"] == ROLE.format(STAGING)
    assert action_fix["policy"] == read_policy(["rds:DescribeReservedDBInstances"])
    assert "rds:DescribeReservedDBInstances" in action_fix["aws_message"]


def test_table_output_lists_causes_and_a_policy_to_paste(broken):
    code, out, _ = run("--config.file", broken)
    assert code == 1
    assert "AWS gives the same answer for each of these; check them in turn:" in out
    row = next(
        line
        for line in out.splitlines()
        if "rds:DescribeReservedDBInstances" in line and line.startswith("staging")
    )
    assert row.split()[-3:] == ["DENIED", "us-east-1,", "eu-west-1"]
    # The policy after "Add to the policy of <role>:" is valid JSON, ready to paste.
    marker = f"Add to the policy of {ROLE.format(STAGING)}:\n"
    block = out.split(marker, 1)[1]
    lines = []
    for line in block.splitlines():
        if not line.startswith("    "):
            break
        lines.append(line)
    assert json.loads("\n".join(lines)) == read_policy(["rds:DescribeReservedDBInstances"])


def test_everything_allowed_exits_0(fake, tmp_path):
    fake.add_role(ROLE.format(PROD), external_id="right-id", trusted_account_ids=[OWN_ACCOUNT])
    fake.add_role(ROLE.format(STAGING), trusted_account_ids=[OWN_ACCOUNT])
    path = write_config(
        tmp_path,
        accounts=[
            {"name": "payer"},
            {"name": "production", "role_arn": ROLE.format(PROD), "external_id": "right-id"},
            {"name": "staging", "id": STAGING, "via": "production"},
        ],
    )
    fake.add_role(ROLE.format(STAGING), trusted_account_ids=[PROD])
    code, out, _ = run("--config.file", path)
    assert code == 0, out
    assert out.rstrip().endswith("Everything the configuration needs is allowed.")
    assert "sts:AssumeRole role/ReservationExporter (via production)  ok" in out


def test_chained_role_refusal_names_the_via_role_as_principal(fake, tmp_path):
    fake.add_role(ROLE.format(PROD), trusted_account_ids=[OWN_ACCOUNT])
    fake.add_role(
        ROLE.format(STAGING), trusted_account_ids=[OWN_ACCOUNT]
    )  # not trusting production
    path = write_config(
        tmp_path,
        services=["savingsplans"],
        accounts=[
            {"name": "production", "role_arn": ROLE.format(PROD)},
            {"name": "staging", "id": STAGING, "via": "production"},
        ],
    )
    code, out, _ = run("--config.file", path, "--format", "json")
    assert code == 1
    (fix,) = json.loads(out)["fixes"]
    assert fix["trust_statement"]["Principal"] == {"AWS": ROLE.format(PROD)}
    assert "Condition" not in fix["trust_statement"]
    assert any("none is configured (set external_id)" in c for c in fix["causes"])


def test_an_account_behind_a_refused_role_is_not_blamed(fake, tmp_path):
    fake.add_role(ROLE.format(STAGING), trusted_account_ids=[PROD])  # production's role: absent
    path = write_config(
        tmp_path,
        services=["savingsplans"],
        accounts=[
            {"name": "production", "role_arn": ROLE.format(PROD)},
            {"name": "staging", "id": STAGING, "via": "production"},
        ],
    )
    code, out, _ = run("--config.file", path, "--format", "json")
    assert code == 1
    document = json.loads(out)
    assert (
        "staging",
        "sts:AssumeRole role/ReservationExporter (via production)",
        "not checked",
        "production cannot be reached",
    ) in checks_of(document)
    assert [(f["account"], f["problem"]) for f in document["fixes"]] == [
        ("production", f"cannot assume {ROLE.format(PROD)}"),
        ("staging", "reached via 'production': fix that first"),
    ]


def test_regions_all_needs_describe_regions(fake, tmp_path):
    path = write_config(tmp_path, regions="all", services=["rds"], accounts=[{"name": "payer"}])
    fake.deny(OWN_ACCOUNT, "ec2:DescribeRegions")
    code, out, _ = run("--config.file", path, "--format", "json")
    assert code == 1
    document = json.loads(out)
    assert ("payer", "ec2:DescribeRegions", "denied", 'for regions: "all"') in checks_of(document)
    assert document["fixes"][0]["policy"] == read_policy(["ec2:DescribeRegions"])


def test_regions_all_probes_every_enabled_region(fake, tmp_path):
    path = write_config(tmp_path, regions="all", services=["rds"], accounts=[{"name": "payer"}])
    code, out, _ = run("--config.file", path, "--format", "json")
    assert code == 0
    listed = {
        r["RegionName"] for r in fake.client("ec2", OWN_ACCOUNT).describe_regions()["Regions"]
    }
    # moto lists China and GovCloud regions too; only those with an aws-partition endpoint count.
    regions = listed & set(botocore.session.get_session().get_available_regions("rds"))
    checks = {c["check"]: c for c in json.loads(out)["checks"]}
    assert checks["ec2:DescribeRegions"]["where"] == f"{len(listed)} regions"
    probed = {
        c.region
        for c in fake.calls(account_id=OWN_ACCOUNT, operation="DescribeReservedDBInstances")
    }
    assert probed == regions


def test_organizations_discovery_is_checked_and_its_accounts_too(fake, tmp_path):
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_org_account(MEMBER, "member")
    fake.add_org_account(PROD, "no-role-yet")
    fake.add_role(ROLE.format(MEMBER), trusted_account_ids=[OWN_ACCOUNT])
    path = write_config(
        tmp_path,
        services=["savingsplans"],
        accounts=[{"name": "payer"}],
        organizations={"enabled": True},
    )
    code, out, _ = run("--config.file", path, "--format", "json")
    assert code == 1
    document = json.loads(out)
    checks = checks_of(document)
    assert ("(organizations)", "organizations:ListAccounts", "ok", "") in checks
    assert ("member", "savingsplans:DescribeSavingsPlans", "ok", "global") in checks
    assert ("no-role-yet", "sts:AssumeRole role/ReservationExporter", "denied", "") in checks
    assert [f["account"] for f in document["fixes"]] == ["no-role-yet"]

    fake.deny(OWN_ACCOUNT, "organizations:ListAccounts")
    code, out, _ = run("--config.file", path, "--format", "json")
    assert code == 1
    fix = json.loads(out)["fixes"][0]
    assert fix["account"] == "(organizations)"
    assert fix["policy"] == read_policy(["organizations:ListAccounts"])


def test_owner_reads_are_checked_and_a_denied_one_gets_its_policy(fake, tmp_path):
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_role(ROLE.format(STAGING), trusted_account_ids=[OWN_ACCOUNT])
    fake.deny(STAGING, "rds:ListTagsForResource")
    fake.deny(OWN_ACCOUNT, "organizations:ListParents")
    path = write_config(
        tmp_path,
        regions=["us-east-1"],
        services=["rds", "memorydb"],
        accounts=[{"name": "payer"}, {"name": "staging", "id": STAGING}],
        organizations={"role_arn": None, "enabled": False},
        owner_labels={"team": "Team"},
    )
    # Without discovery nor a management role, Organizations is not read.
    code, out, _ = run("--config.file", path, "--format", "json")
    document = json.loads(out)
    checks = checks_of(document)
    assert ("payer", "rds:ListTagsForResource", "ok", "us-east-1") in checks
    assert ("payer", "memorydb:ListTags", "ok", "us-east-1") in checks
    assert ("staging", "rds:ListTagsForResource", "denied", "us-east-1") in checks
    assert not any(c[0] == "(organizations)" for c in checks)
    assert code == 1
    (fix,) = document["fixes"]
    assert (fix["account"], fix["policy"]) == ("staging", read_policy(["rds:ListTagsForResource"]))

    path = write_config(
        tmp_path,
        regions=["us-east-1"],
        services=["rds"],
        accounts=[{"name": "payer"}],
        organizations={"enabled": True},
        owner_labels={"team": "Team"},
    )
    code, out, _ = run("--config.file", path, "--format", "json")
    document = json.loads(out)
    checks = checks_of(document)
    for action in ("DescribeOrganization", "ListTagsForResource", "DescribeOrganizationalUnit"):
        assert ("(organizations)", f"organizations:{action}", "ok", "owners") in checks
    assert ("(organizations)", "organizations:ListParents", "denied", "owners") in checks
    assert code == 1
    (fix,) = document["fixes"]
    assert fix["policy"] == read_policy(["organizations:ListParents"])
    assert "OU paths stay empty" in fix["problem"]


def test_a_refused_mfa_code_is_named_as_such(fake, tmp_path, monkeypatch):
    serial = f"arn:aws:iam::{OWN_ACCOUNT}:mfa/alice"
    fake.add_mfa_device(serial, "123456")
    fake.add_role(ROLE.format(PROD), mfa_serial=serial)
    key, secret = credentials_for(OWN_ACCOUNT)
    (tmp_path / "credentials").write_text(
        f"[me]\naws_access_key_id = {key}\naws_secret_access_key = {secret}\n"
    )
    (tmp_path / "aws-config").write_text(
        f"[profile prod]\nrole_arn = {ROLE.format(PROD)}\nsource_profile = me\n"
        f"mfa_serial = {serial}\n"
    )
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "credentials"))
    path = write_config(tmp_path, services=["rds"], accounts=[{"name": "prod", "profile": "prod"}])
    code, out, _ = run("--config.file", path, "--format", "json", prompter=lambda _: "999999")
    assert code == 1
    (fix,) = json.loads(out)["fixes"]
    assert fix["problem"] == "the MFA code for profile 'prod' was refused"
    code, out, _ = run("--config.file", path, "--format", "json", prompter=lambda _: "123456")
    assert code == 0, out
    assert ("prod", "profile prod", "ok", "") in checks_of(json.loads(out))


def test_demo_is_healthy(server):
    server.reset()
    code, out, _ = run("--demo")
    assert code == 0, out
    assert "Everything the configuration needs is allowed." in out


def test_every_action_the_doctor_suggests_is_in_the_shipped_policy():
    shipped = set(json.loads((ROOT / "iam" / "policy.json").read_text())["Statement"][0]["Action"])
    suggested = {spec.iam_action for spec in REGISTRY.values()} | {"ec2:DescribeRegions"}
    suggested |= {spec.tags_iam_action for spec in REGISTRY.values() if spec.tags_iam_action}
    assert suggested == shipped


@pytest.mark.parametrize(
    ("caller", "principal"),
    [
        (
            "arn:aws:sts::111111111111:assumed-role/Exporter/i-0abc",
            "arn:aws:iam::111111111111:role/Exporter",
        ),
        ("arn:aws-cn:iam::111111111111:user/ops/bot", "arn:aws-cn:iam::111111111111:user/ops/bot"),
    ],
)
def test_principal_of_turns_a_role_session_into_its_role(caller, principal):
    assert principal_of(caller) == principal


def test_bad_config_exits_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("regions: [us-east-1]\nnope: 1\n")
    code, out, _ = run("--config.file", str(bad))
    assert code == 2 and out == ""
    assert "nope" in capsys.readouterr().err


EVIL = "555555555555"
FORGING_NAME = "evil\n2026-01-01 ERROR forged\x1b[2J\u202e"
FORGING_SHOWN = "evil\\n2026-01-01 ERROR forged\\x1b[2J\\u202e"
RAW = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e]")


def test_hostile_account_names_from_organizations_reach_the_terminal_escaped(fake, tmp_path):
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    fake.add_org_account(MEMBER, "=cmd|' /C calc'!A0")
    fake.add_org_account(EVIL, FORGING_NAME)  # no role: AssumeRole is refused
    fake.add_role(ROLE.format(MEMBER), trusted_account_ids=[OWN_ACCOUNT])
    path = write_config(
        tmp_path,
        services=["savingsplans"],
        accounts=[{"name": "payer"}],
        organizations={"enabled": True, "exclude": [OWN_ACCOUNT]},
    )
    code, out, err = run("--config.file", path, "--log.level", "debug")
    assert code == 1
    assert not RAW.search(out) and not RAW.search(err)
    lines = out.splitlines()
    assert not any(line.startswith("2026-01-01") for line in lines)
    rows = [re.split(r"\s{2,}", line) for line in lines]
    assert [FORGING_SHOWN, EVIL, "sts:AssumeRole role/ReservationExporter", "DENIED"] in rows
    assert [
        "=cmd|' /C calc'!A0",
        MEMBER,
        "savingsplans:DescribeSavingsPlans",
        "ok",
        "global",
    ] in rows
    assert f"* {FORGING_SHOWN} ({EVIL}): cannot assume {ROLE.format(EVIL)}" in lines
    said = next(line for line in lines if line.startswith("  AWS said: "))
    assert "is not authorized to perform: sts:AssumeRole" in said
    code, out, _ = run("--config.file", path, "--format", "json")
    assert code == 1 and not RAW.search(out)
    assert {c["account"] for c in json.loads(out)["checks"]} >= {"=cmd|' /C calc'!A0"}


def test_what_aws_said_and_every_other_value_is_escaped_for_the_terminal():
    hostile = "AccessDenied: no\x1b[2J\r\n* forged (1): fine\u2028\x9b31m\x07"
    diagnosis = doctor.Diagnosis(
        identity="arn:aws:sts::111111111111:assumed-role/R/s\x1b]0;title\x07",
        checks=[doctor.Check("acc\x1b[31m", "1\n2", "rds:Describe\tX", doctor.DENIED, "us\x85")],
        fixes=[
            doctor.Fix(
                "acc\x1b[31m",
                "1\n2",
                "denied: rds:X\rforged",
                hostile,
                ("cause\none", "cause\x1b[2Jtwo"),
                attach_to="arn:aws:iam::1:role/R\u202e",
                policy=read_policy(["rds:X"]),
            )
        ],
    )
    text = doctor.render_text(diagnosis)
    assert not RAW.search(text)
    assert text.splitlines() == [
        "exporter identity: arn:aws:sts::111111111111:assumed-role/R/s\\x1b]0;title\\x07",
        "",
        "ACCOUNT      ACCOUNT ID  CHECK            RESULT  WHERE",
        "acc\\x1b[31m  1\\n2        rds:Describe\\tX  DENIED  us\\x85",
        "",
        "What to fix:",
        "",
        "* acc\\x1b[31m (1\\n2): denied: rds:X\\rforged",
        "  AWS said: AccessDenied: no\\x1b[2J\\r\\n* forged (1): fine\\u2028\\x9b31m\\x07",
        "  AWS gives the same answer for each of these; check them in turn:",
        "    - cause\\none",
        "    - cause\\x1b[2Jtwo",
        "  Add to the policy of arn:aws:iam::1:role/R\\u202e:",
        *("    " + line for line in json.dumps(read_policy(["rds:X"]), indent=2).splitlines()),
    ]
    document = json.loads(doctor.render_json(diagnosis))
    assert document["fixes"][0]["aws_message"] == hostile  # JSON keeps the value, escaped


def test_a_short_refresh_interval_is_not_warned_about_by_doctor(fake, tmp_path):
    path = write_config(
        tmp_path, refresh_interval="1m", services=["savingsplans"], accounts=[{"name": "payer"}]
    )
    code, _, err = run("--config.file", path, "--log.level", "warning")
    assert code == 0
    assert "refresh_interval" not in err and "exporter.config" not in err


def test_cost_explorer_reads_are_checked_with_a_sample_row(fake, tmp_path):
    fake.add_org_account(OWN_ACCOUNT, "payer", management_account_id=OWN_ACCOUNT)
    end = datetime.now(timezone.utc) + timedelta(days=40)
    fake.seed(
        OWN_ACCOUNT,
        "us-east-1",
        "ec2",
        [
            {
                "ReservedInstancesId": "ri-sample",
                "InstanceType": "m5.large",
                "Start": end - timedelta(days=365),
                "End": end,
                "Duration": 365 * 86400,
                "InstanceCount": 2,
                "State": "active",
                "ProductDescription": "Linux/UNIX",
                "Scope": "Region",
            }
        ],
    )
    fake.set_utilization(OWN_ACCOUNT, "ec2", "ri-sample", 55.0)
    path = write_config(
        tmp_path, services=["ec2"], accounts=[{"name": "payer"}], cost_explorer={"enabled": True}
    )
    code, out, _ = run("--config.file", path, "--format", "json")
    checks = {(c["check"], c["status"]): c["where"] for c in json.loads(out)["checks"]}
    sample = checks[("ce:GetReservationUtilization", "ok")]
    assert sample.startswith("sample: ec2 ri-sample of 111111111111 ends ")
    assert sample.endswith("55% used")
    assert ("ce:GetSavingsPlansUtilizationDetails", "ok") in checks
    assert code == 0

    fake.deny(OWN_ACCOUNT, "ce:GetSavingsPlansUtilizationDetails")
    code, out, _ = run("--config.file", path, "--format", "json")
    document = json.loads(out)
    assert code == 1
    (fix,) = document["fixes"]
    assert fix["policy"] == read_policy(["ce:GetSavingsPlansUtilizationDetails"])
