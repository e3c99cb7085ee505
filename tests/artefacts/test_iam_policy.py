"""iam/: the read policy holds exactly the actions the exporter calls, and the
CloudFormation templates are cfn-lint clean and grant what they promise.

The action list is derived independently of the exporter's service registry:
a full refresh cycle of the real exporter runs against the fake AWS, whose
recorder logs each request's SigV4 signing name and operation; the IAM action
is ``<signing name>:<operation>`` (OpenSearch signs as ``es``). botocore's
service models cross-check every action name.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from cfnlint.decode import decode

from exporter.services import REGISTRY
from tests.support import OWN_ACCOUNT, ROOT

IAM = ROOT / "iam"
POLICY = json.loads((IAM / "policy.json").read_text())
CFN_LINT = Path(sys.executable).parent / "cfn-lint"

MEMBER_ACCOUNT = "222222222222"
MANAGEMENT_ACCOUNT = "999999999999"
DISCOVERED_ACCOUNT = "333333333333"
ROLE_NAME = "ReservationExporter"
TAGGED_BY_ARN = ("rds", "elasticache", "memorydb")


def policy_actions() -> list[str]:
    [statement] = POLICY["Statement"]
    assert statement["Effect"] == "Allow"
    assert statement["Resource"] == "*"  # these Describe/List calls have no resource ARNs
    return statement["Action"]


def template(name: str) -> dict[str, Any]:
    decoded, problems = decode(str(IAM / name))
    assert not problems, problems
    return decoded


def signing_names() -> dict[str, set[str]]:
    """IAM prefix (SigV4 signing name) -> operations, over every botocore service model."""
    session = botocore.session.get_session()
    found: dict[str, set[str]] = {}
    for service in session.get_available_services():
        model = session.get_service_model(service)
        found.setdefault(model.signing_name, set()).update(model.operation_names)
    return found


# --------------------------------------------------------------------------- the calls themselves


@pytest.fixture(scope="module")
def recorded_actions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[set[str]]:
    """IAM actions of every request one refresh cycle sent to the fake AWS."""
    pytest.importorskip("moto", reason="the fake AWS needs the demo extra")
    from exporter.app import Exporter, ServeOptions
    from exporter.config import parse_config
    from exporter.fake import FakeAws
    from exporter.fake.demo_data import OFFERINGS, TERMS, make_record

    config = {
        "regions": ["eu-west-1"],
        "services": list(REGISTRY),
        "concurrency": 8,
        "defaults": {"role_name": ROLE_NAME},
        "accounts": [
            # Own credentials and every enabled region: DescribeRegions.
            {"name": "own", "regions": "all"},
            {"name": "member", "id": MEMBER_ACCOUNT},
        ],
        "organizations": {
            "enabled": True,
            "role_arn": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/{ROLE_NAME}",
        },
        # Reservation tags: RDS, ElastiCache and MemoryDB read them per reservation.
        "owner_labels": {"team": "Team"},
        # Every RI of the organization and its utilization, in the management account.
        "cost_explorer": {
            "enabled": True,
            "role_arn": f"arn:aws:iam::{MANAGEMENT_ACCOUNT}:role/{ROLE_NAME}",
        },
    }
    saved = dict(os.environ)
    with FakeAws() as fake:
        fake.reset()
        for account in (MEMBER_ACCOUNT, MANAGEMENT_ACCOUNT, DISCOVERED_ACCOUNT):
            fake.add_role(f"arn:aws:iam::{account}:role/{ROLE_NAME}")
        fake.add_org_account(
            DISCOVERED_ACCOUNT,
            "discovered",
            management_account_id=MANAGEMENT_ACCOUNT,
            ou_path="Workloads",  # its OU path needs DescribeOrganizationalUnit
            tags={"Team": "search"},
        )
        start = datetime.now(timezone.utc) - timedelta(days=10)
        for service in TAGGED_BY_ARN:  # one reservation each, so its tags are read
            record = make_record(
                service,
                rid=f"{service}-1",
                account_id=DISCOVERED_ACCOUNT,
                region="eu-west-1",
                start=start,
                seconds=TERMS[1],
                state="active",
                offering=OFFERINGS[service][0],
            )
            fake.seed(DISCOVERED_ACCOUNT, "eu-west-1", service, [record])
        fake.apply_env(account_id=OWN_ACCOUNT)
        path = tmp_path_factory.mktemp("iam") / "config.yaml"
        path.write_text(json.dumps(config))
        exporter = Exporter(
            ServeOptions(config_file=str(path), listen_address="127.0.0.1:0"),
            parse_config(config),
        )
        exporter.start()
        try:
            assert exporter.refresher.ready.wait(120), "first refresh cycle did not finish"
            calls = fake.calls()
        finally:
            exporter.shutdown()
            os.environ.clear()
            os.environ.update(saved)
    # Every account answered: the cycle exercised the full set of calls.
    tag_reads = {f"{c.service}:{c.operation}" for c in calls if "Tag" in c.operation}
    assert tag_reads >= {"rds:ListTagsForResource", "memorydb:ListTags"}
    assert {c.account_id for c in calls} >= {OWN_ACCOUNT, MEMBER_ACCOUNT, DISCOVERED_ACCOUNT}
    assert not [c for c in calls if c.outcome != "ok"], [c for c in calls if c.outcome != "ok"]
    yield {f"{c.service}:{c.operation}" for c in calls}


MANAGEMENT_ONLY = ("sts:", "organizations:", "ce:")
COST_EXPLORER_READS = ["ce:GetReservationUtilization", "ce:GetSavingsPlansUtilizationDetails"]


def test_read_policy_is_exactly_the_read_calls_the_exporter_makes(
    recorded_actions: set[str],
) -> None:
    reads = {a for a in recorded_actions if not a.startswith(MANAGEMENT_ONLY)}
    assert sorted(policy_actions()) == sorted(reads)


ORGANIZATION_READS = [
    "organizations:DescribeOrganization",
    "organizations:DescribeOrganizationalUnit",
    "organizations:ListAccounts",
    "organizations:ListParents",
    "organizations:ListTagsForResource",
]


def test_other_calls_are_role_assumption_and_the_organization(recorded_actions: set[str]) -> None:
    others = {a for a in recorded_actions if a.startswith(MANAGEMENT_ONLY)}
    # GetCallerIdentity needs no permission; the others are in the templates below.
    allowed = {"sts:AssumeRole", "sts:GetCallerIdentity", *ORGANIZATION_READS, *COST_EXPLORER_READS}
    assert others <= allowed
    assert set(COST_EXPLORER_READS) <= others
    organization = {a for a in others if a.startswith("organizations:")}
    # DescribeOrganizationalUnit only runs for an account inside an OU.
    assert organization >= set(ORGANIZATION_READS) - {"organizations:DescribeOrganizationalUnit"}


# --------------------------------------------------------------------------- botocore cross-checks


def test_policy_is_sorted_without_duplicates() -> None:
    actions = policy_actions()
    assert actions == sorted(set(actions))


def test_every_policy_action_exists_under_its_signing_name() -> None:
    known = signing_names()
    for action in policy_actions():
        prefix, operation = action.split(":")
        assert operation in known.get(prefix, set()), f"{action}: no such botocore operation"


def test_every_registered_service_and_region_discovery_is_allowed() -> None:
    session = botocore.session.get_session()
    expected = {"ec2:DescribeRegions"} | {
        f"{session.get_service_model(spec.client_name).signing_name}:{spec.operation}"
        for spec in REGISTRY.values()
    }
    expected |= {spec.tags_iam_action for spec in REGISTRY.values() if spec.tags_iam_action}
    assert set(policy_actions()) == expected
    assert "es:DescribeReservedInstances" in expected  # OpenSearch signs as es


# --------------------------------------------------------------------------- CloudFormation


@pytest.mark.parametrize("name", ["member-role.yaml", "exporter-role.yaml"])
def test_cfn_lint_reports_nothing(name: str) -> None:
    assert CFN_LINT.exists(), "cfn-lint missing: install the dev extra"
    result = subprocess.run([CFN_LINT, IAM / name], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""


def test_cfn_lint_catches_a_broken_template(tmp_path: Path) -> None:
    # Proves the lint above is live: an action name IAM does not know.
    broken = (
        (IAM / "member-role.yaml").read_text().replace("ec2:DescribeRegions", "ec2:DescribeRegionz")
    )
    (tmp_path / "broken.yaml").write_text(broken)
    result = subprocess.run(
        [CFN_LINT, tmp_path / "broken.yaml"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode != 0
    # W3037: cfn-lint checks every IAM action against its own list of actions.
    assert "W3037 'describeregionz'" in result.stdout


def _inline_read_actions(resource: dict[str, Any]) -> list[str]:
    properties = resource["Properties"]
    documents = [p["PolicyDocument"] for p in properties.get("Policies", ())]
    if "PolicyDocument" in properties:
        documents.append(properties["PolicyDocument"])
    [statement] = [
        s for d in documents for s in d["Statement"] if s.get("Sid") == "ReadReservations"
    ]
    return statement["Action"]


def test_member_role_grants_the_read_policy_to_the_trusted_principal_with_external_id() -> None:
    t = template("member-role.yaml")
    role = t["Resources"]["ReservationReaderRole"]
    assert _inline_read_actions(role) == policy_actions()
    [trust] = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"AWS": {"Ref": "TrustedPrincipalArn"}}
    assert trust["Action"] == "sts:AssumeRole"
    assert trust["Condition"] == {
        "Fn::If": [
            "HasExternalId",
            {"StringEquals": {"sts:ExternalId": {"Ref": "ExternalId"}}},
            {"Ref": "AWS::NoValue"},
        ]
    }
    # StackSet-ready: nothing account- or region-specific is written in.
    text = (IAM / "member-role.yaml").read_text()
    assert not re.search(r"\b\d{12}\b", text)
    assert "arn:aws:" not in text.replace("'^arn:aws[a-zA-Z-]*:", "")
    assert t["Parameters"]["RoleName"]["Default"] == ROLE_NAME
    listing = t["Resources"]["ListAccountsPolicy"]
    assert listing["Condition"] == "ListsAccounts"
    assert listing["Properties"]["PolicyDocument"]["Statement"][0]["Action"] == (ORGANIZATION_READS)


def _substitute(text: str, values: dict[str, str]) -> str:
    return re.sub(r"\$\{([^}]+)\}", lambda m: values[m.group(1)], text)


def test_exporter_role_trusts_only_the_service_account_through_irsa() -> None:
    t = template("exporter-role.yaml")
    trust = t["Resources"]["ExporterRole"]["Properties"]["AssumeRolePolicyDocument"]
    condition, irsa_text, pod_identity = trust["Fn::If"]
    assert condition == "UsesIrsa"
    issuer = "oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0123456789"
    irsa = json.loads(
        _substitute(
            irsa_text["Fn::Sub"],
            {
                "AWS::Partition": "aws",
                "AWS::AccountId": OWN_ACCOUNT,
                "OidcIssuer": issuer,
                "ServiceAccountNamespace": "monitoring",
                "ServiceAccountName": "aws-reservation-exporter",
            },
        )
    )
    [statement] = irsa["Statement"]
    assert statement["Principal"] == {
        "Federated": f"arn:aws:iam::{OWN_ACCOUNT}:oidc-provider/{issuer}"
    }
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            f"{issuer}:sub": "system:serviceaccount:monitoring:aws-reservation-exporter",
            f"{issuer}:aud": "sts.amazonaws.com",
        }
    }
    [pod] = pod_identity["Statement"]
    assert pod["Principal"] == {"Service": "pods.eks.amazonaws.com"}
    assert pod["Action"] == ["sts:AssumeRole", "sts:TagSession"]


def test_exporter_role_may_assume_only_the_member_roles_and_optional_extras() -> None:
    t = template("exporter-role.yaml")
    [policy] = t["Resources"]["ExporterRole"]["Properties"]["Policies"]
    [assume] = policy["PolicyDocument"]["Statement"]
    assert assume["Action"] == "sts:AssumeRole"
    assert assume["Resource"] == {"Fn::Sub": "arn:${AWS::Partition}:iam::*:role/${MemberRoleName}"}
    assert t["Parameters"]["MemberRoleName"]["Default"] == ROLE_NAME
    own = t["Resources"]["OwnAccountReadPolicy"]
    assert own["Condition"] == "ReadsOwnAccount"
    assert _inline_read_actions(own) == policy_actions()
    listing = t["Resources"]["ListAccountsPolicy"]
    assert listing["Condition"] == "ListsAccounts"
    assert listing["Properties"]["PolicyDocument"]["Statement"][0]["Action"] == (ORGANIZATION_READS)
    org_role = t["Resources"]["OrganizationsRolePolicy"]
    assert org_role["Condition"] == "HasOrganizationsRole"
    assert org_role["Properties"]["PolicyDocument"]["Statement"][0]["Resource"] == {
        "Ref": "OrganizationsRoleArn"
    }


def test_doctor_suggests_the_same_actions_as_the_policy() -> None:
    # `doctor` prints policies for missing permissions; they must agree with iam/.
    from exporter.commands.doctor import read_policy

    actions = [spec.iam_action for spec in REGISTRY.values()] + ["ec2:DescribeRegions"]
    actions += [spec.tags_iam_action for spec in REGISTRY.values() if spec.tags_iam_action]
    assert read_policy(actions)["Statement"][0]["Action"] == policy_actions()


@pytest.mark.parametrize(
    ("name", "condition", "parameter"),
    [
        ("member-role.yaml", "ReadsCostExplorer", "AllowCostExplorer"),
        ("exporter-role.yaml", "ReadsCostExplorer", "CostExplorerDirectly"),
    ],
)
def test_templates_grant_the_cost_explorer_reads_on_request(name, condition, parameter) -> None:
    t = template(name)
    policy = t["Resources"]["CostExplorerPolicy"]
    assert policy["Condition"] == condition
    assert t["Conditions"][condition] == {"Fn::Equals": [{"Ref": parameter}, "true"]}
    assert t["Parameters"][parameter]["Default"] == "false"
    [statement] = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == COST_EXPLORER_READS
