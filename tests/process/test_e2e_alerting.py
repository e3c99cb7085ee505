"""End to end: fake AWS -> exporter (real process) -> Prometheus with the
shipped rules (only `for:` shortened) -> Alertmanager with the example's
routes and inhibitions -> a webhook and SNS (into SQS, in the fake).

Two Prometheus scrape targets read the same exporter, as two replicas would,
so every alert must still arrive once. Every PromQL expression of the rules
and of the dashboard then runs against this Prometheus.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporter.fake import FakeAws
from exporter.fake.demo_data import Offering, make_record
from tests.alerting_support import (
    WebhookSink,
    http_json,
    prometheus_query,
    running_alertmanager,
    running_prometheus,
    wait_until,
    webhook_receivers,
)
from tests.dashboard import load as load_dashboard
from tests.dashboard import queries as dashboard_queries
from tests.support import OWN_ACCOUNT, ROOT, free_port

pytestmark = pytest.mark.tools

MONITORING = ROOT / "monitoring"
# OWN_ACCOUNT is account "finance": the exporter's own credentials.
SANDBOX = "222222222222"  # account "sandbox": assumed role, EC2 listing denied
SANDBOX_ROLE = f"arn:aws:iam::{SANDBOX}:role/ReservationExporter"
DAY = 86400
YEAR = 365 * DAY
SHORT_FOR = "5s"
ABSENT_FOR = "90s"

# What must be firing: (alertname, reservation or target, tier).
EXPECTED = {
    ("ReservationExpiringSoon", "ri-notice", "notice"),
    ("ReservationExpiringSoon", "ri-warning", "warning"),
    ("ReservationExpiringSoon", "ri-urgent", "urgent"),
    ("ReservationExpiringSoon", "rds-critical", "critical"),
    # 2 instances expiring; the 1 of the same kind bought months ago renews nothing.
    ("ReservationExpiringSoon", "rds-staggered", "critical"),
    # 4 instances expiring, 3 queued: 75 % covered still alerts.
    ("ReservationExpiringSoon", "ri-partial", "urgent"),
    ("ReservationExpired", "ri-expired", "expired"),
    ("ReservationExporterRefreshFailing", "sandbox/us-east-1/ec2", ""),
    # No tag of its own: the sandbox account's Team (search) routes it.
    ("ReservationExpiringSoon", "rds-sandbox", "warning"),
}
# Alert expressions with nothing to find in this set-up.
QUIET_ALERTS = {
    "ReservationExporterDataStale",
    "ReservationExporterDown",
    "ReservationExporterAbsent",
    "ReservationExporterConfigReloadFailed",
    "ReservationExporterDiscoveryFailing",
}


def seed(fake: FakeAws, now: datetime) -> None:
    def ec2(rid: str, itype: str, days_left: float, state: str = "active", start=None, count=1):
        end = now + timedelta(days=days_left)
        return make_record(
            "ec2",
            rid=rid,
            account_id=OWN_ACCOUNT,
            region="us-east-1",
            start=start or end - timedelta(seconds=YEAR),
            seconds=YEAR,
            state=state,
            offering=Offering(itype, "Linux/UNIX", "No Upfront", 0.0, 0.1),
            count=count,
        )

    def rds(rid: str, days_left: float, count: int, start=None):
        end = now + timedelta(days=days_left)
        return make_record(
            "rds",
            rid=rid,
            account_id=OWN_ACCOUNT,
            region="us-east-1",
            start=start or end - timedelta(seconds=YEAR),
            seconds=YEAR,
            state="active",
            offering=Offering("db.m6g.large", "postgresql", "No Upfront", 0.0, 0.2),
            count=count,
            multi_az=False,
        )

    # A convertible RI exchanged 20 days ago: retired long before its term ended.
    exchanged = ec2("ri-exchanged", "m6a.large", 145, start=now - timedelta(days=220))
    exchanged.update(State="retired", End=now - timedelta(days=20))

    renewed_end = now + timedelta(days=20)
    fake.seed(
        OWN_ACCOUNT,
        "us-east-1",
        "ec2",
        [
            ec2("ri-notice", "t3.large", 45),
            ec2("ri-warning", "m6i.large", 25),
            # Its own Team tag routes it to the payments team.
            {**ec2("ri-urgent", "m5.large", 5), "Tags": [{"Key": "Team", "Value": "payments"}]},
            ec2("ri-renewed", "c5.large", 20),
            ec2("ri-renewal", "c5.large", 385, state="queued", start=renewed_end),
            ec2("ri-expired", "r5.large", -2, state="retired"),
            exchanged,
            # Size flexibility: 1 x xlarge renewed by 2 x large (Linux, regional).
            ec2("ri-flex", "m7i.xlarge", 5),
            ec2(
                "ri-flex-renewal",
                "m7i.large",
                370,
                state="queued",
                start=now + timedelta(days=5),
                count=2,
            ),
            ec2("ri-partial", "c6a.large", 5, count=4),
            ec2(
                "ri-partial-renewal",
                "c6a.large",
                370,
                state="queued",
                start=now + timedelta(days=5),
                count=3,
            ),
        ],
    )
    fake.seed(
        OWN_ACCOUNT,
        "us-east-1",
        "rds",
        [
            make_record(
                "rds",
                rid="rds-critical",
                account_id=OWN_ACCOUNT,
                region="us-east-1",
                start=now + timedelta(hours=12) - timedelta(seconds=YEAR),
                seconds=YEAR,
                state="active",
                offering=Offering("db.r6g.large", "postgresql", "No Upfront", 0.0, 0.2),
                multi_az=False,
            ),
            rds("rds-staggered", 0.5, count=2),
            rds("rds-extra", 165, count=1, start=now - timedelta(days=200)),
        ],
    )
    fake.add_role(SANDBOX_ROLE)
    fake.deny(SANDBOX, "ec2:DescribeReservedInstances")
    fake.seed(
        SANDBOX,
        "us-east-1",
        "rds",
        [
            make_record(
                "rds",
                rid="rds-sandbox",
                account_id=SANDBOX,
                region="us-east-1",
                start=now + timedelta(days=20) - timedelta(seconds=YEAR),
                seconds=YEAR,
                state="active",
                offering=Offering("db.t4g.large", "mysql", "No Upfront", 0.0, 0.1),
                multi_az=False,
            )
        ],
    )
    # finance has no Team: its alerts fall back to FinOps by severity.
    fake.add_org_account(OWN_ACCOUNT, "finance", management_account_id=OWN_ACCOUNT)
    fake.add_org_account(SANDBOX, "sandbox", tags={"Team": "search"}, ou_path="Sandbox")


def rules_with_short_for() -> dict[str, Any]:
    """monitoring/alerts.yaml with every `for:` cut to SHORT_FOR, nothing else,
    except ReservationExporterAbsent's: until Prometheus' first target update
    (batched every 5 s, later on a busy machine) no `up` series exists at all,
    which its 15m covers in production and 5 s would not."""
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "for" in rule:
                absent = rule.get("alert") == "ReservationExporterAbsent"
                rule["for"] = ABSENT_FOR if absent else SHORT_FOR
    return rules


def alertmanager_config(sink: WebhookSink, sns: dict[str, str]) -> dict[str, Any]:
    """The example with webhooks for every receiver except finops-sns, which
    keeps its SNS settings and templates but publishes to the fake."""
    example = yaml.safe_load((MONITORING / "alertmanager.example.yaml").read_text())
    config = webhook_receivers(example, sink)
    original = next(r for r in example["receivers"] if r["name"] == "finops-sns")
    sns_config = dict(original["sns_configs"][0])
    sns_config.update(
        api_url=sns["endpoint"],
        topic_arn=sns["topic_arn"],
        sigv4={"region": "us-east-1", "access_key": sns["key"], "secret_key": sns["secret"]},
    )
    for receiver in config["receivers"]:
        if receiver["name"] == "finops-sns":
            receiver.pop("webhook_configs")
            receiver["sns_configs"] = [sns_config]
    return config


def prometheus_config(exporter_port: int, alertmanager: str) -> dict[str, Any]:
    target = f"127.0.0.1:{exporter_port}"
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": ["rules.yaml"],
        "alerting": {
            "alertmanagers": [{"static_configs": [{"targets": [alertmanager.split("//")[1]]}]}]
        },
        "scrape_configs": [
            {
                "job_name": "aws-reservation-exporter",
                # The same exporter twice under two instance names: two replicas.
                "static_configs": [
                    {"targets": [target], "labels": {"instance": "replica-a"}},
                    {"targets": [target], "labels": {"instance": "replica-b"}},
                ],
            }
        ],
    }


@dataclass
class Stack:
    fake: FakeAws
    prometheus: str
    alertmanager: str
    sink: WebhookSink
    sqs: Any
    queue_url: str


def start_exporter(fake: FakeAws, workdir: Path) -> tuple[subprocess.Popen[bytes], int]:
    config = {
        "refresh_interval": "15s",
        "regions": ["us-east-1"],
        "services": ["ec2", "rds"],
        "accounts": [{"name": "finance"}, {"name": "sandbox", "role_arn": SANDBOX_ROLE}],
        # The same two accounts, listed by Organizations: discovery's health
        # series exist, and configured accounts win over discovered ones.
        "organizations": {"enabled": True},
        "owner_labels": {"team": "Team", "cost_center": "CostCenter"},
        # finance is the management account: utilization from Cost Explorer.
        "cost_explorer": {"enabled": True},
    }
    (workdir / "exporter.yaml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "exporter.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter",
            f"--config.file={workdir / 'exporter.yaml'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        env=fake.env(OWN_ACCOUNT),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    log.close()

    def ready() -> bool:
        if process.poll() is not None:
            raise AssertionError((workdir / "exporter.log").read_text())
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    wait_until(ready, 90, "the exporter's first refresh")
    return process, port


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("e2e")
    with FakeAws() as fake, WebhookSink() as sink:
        fake.reset()
        seed(fake, datetime.now(timezone.utc))
        sns_client = fake.client("sns", account_id=OWN_ACCOUNT)
        sqs = fake.client("sqs", account_id=OWN_ACCOUNT)
        topic_arn = sns_client.create_topic(Name="aws-reservations-finops")["TopicArn"]
        queue_url = sqs.create_queue(QueueName="finops")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
        sns_client.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn["Attributes"]["QueueArn"]
        )
        key, secret = fake.credentials(OWN_ACCOUNT)
        sns = {"endpoint": fake.endpoint_url, "topic_arn": topic_arn, "key": key, "secret": secret}
        (workdir / "alertmanager.yaml").write_text(
            yaml.safe_dump(alertmanager_config(sink, sns), sort_keys=False)
        )
        (workdir / "rules.yaml").write_text(yaml.safe_dump(rules_with_short_for(), sort_keys=False))

        exporter, port = start_exporter(fake, workdir)
        try:
            with running_alertmanager(workdir / "alertmanager.yaml", workdir) as am:
                config = prometheus_config(port, am)
                (workdir / "prometheus.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
                with running_prometheus(workdir / "prometheus.yaml", workdir) as prom:
                    yield Stack(fake, prom, am, sink, sqs, queue_url)
        finally:
            exporter.terminate()
            exporter.wait(timeout=30)


def firing(stack: Stack) -> list[tuple[str, str, str]]:
    """(alertname, reservation or target, tier) of every alert Alertmanager holds."""
    found = []
    for alert in http_json(f"{stack.alertmanager}/api/v2/alerts"):
        labels = alert["labels"]
        subject = labels.get("reservation_id") or "/".join(
            labels.get(k, "") for k in ("account", "region", "service")
        )
        found.append((labels["alertname"], subject, labels.get("tier", "")))
    return found


def test_each_alert_reaches_alertmanager_once_despite_two_replicas(stack: Stack) -> None:
    alerts = wait_until(
        lambda: (found := firing(stack)) and set(found) >= EXPECTED and found,
        120,
        "the expected alerts in Alertmanager",
    )
    time.sleep(3)  # a few more evaluations: nothing else turns up, nothing doubles
    alerts = firing(stack)
    assert sorted(alerts) == sorted(EXPECTED)
    # Renewed (same type or size-flexible), exchanged and renewal reservations raise nothing.
    quiet = ("ri-renew", "ri-flex", "ri-exchanged", "ri-partial-renewal", "rds-extra")
    assert not any(subject.startswith(quiet) for _, subject, _ in alerts)
    for alert in http_json(f"{stack.alertmanager}/api/v2/alerts"):
        assert "instance" not in alert["labels"] and "job" not in alert["labels"]


def test_webhook_receivers_get_the_routed_notifications(stack: Stack) -> None:
    def delivered(receiver: str) -> set[str]:
        return {
            a["labels"].get("reservation_id") or a["labels"]["alertname"]
            for message in stack.sink.messages(receiver)
            for a in message["alerts"]
            if a["status"] == "firing"
        }

    def arrives(receiver: str, wanted: set[str]) -> None:
        try:
            wait_until(lambda: delivered(receiver) == wanted, 120, f"{receiver}: {wanted}")
        except AssertionError:  # say what did arrive
            assert delivered(receiver) == wanted
            raise

    arrives("platform-webhook", {"ReservationExporterRefreshFailing"})
    arrives("oncall-sns", {"rds-critical", "rds-staggered"})
    arrives("finops-digest", {"ri-notice"})
    message = stack.sink.messages("oncall-sns")[-1]
    assert message["groupLabels"] == {"alertname": "ReservationExpiringSoon", "account": "finance"}
    alerts = {a["labels"]["reservation_id"]: a for a in message["alerts"]}
    staggered = alerts["rds-staggered"]["annotations"]
    assert staggered["runbook_url"].endswith("RUNBOOK.md#reservationexpiringsoon")
    assert "rds-staggered" in staggered["description"]
    # The staggered purchase's older reservation covers none of it.
    assert "renewals cover 0% of it" in staggered["summary"]
    assert "not covered: 2 of 2 instances, 0.40 USD/h" in staggered["description"]


def test_sns_receiver_publishes_to_the_topic_and_reaches_sqs(stack: Stack) -> None:
    notifications: list[dict[str, Any]] = []

    def everything_arrived() -> bool:
        answer = stack.sqs.receive_message(
            QueueUrl=stack.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for m in answer.get("Messages", []):
            notifications.append(json.loads(m["Body"]))
            stack.sqs.delete_message(QueueUrl=stack.queue_url, ReceiptHandle=m["ReceiptHandle"])
        text = "\n".join(n["Message"] for n in notifications)
        wanted = ("ri-warning", "rds-critical", "ri-expired", "ri-partial")
        return all(r in text for r in wanted)

    wait_until(everything_arrived, 90, "SNS notifications in SQS")
    subjects = {n["Subject"] for n in notifications}
    assert "[FIRING] ReservationExpiringSoon in finance" in subjects
    assert "[FIRING] ReservationExpired in finance" in subjects
    text = "\n".join(n["Message"] for n in notifications)
    assert "ri-notice" not in text  # info goes to the digest, not to SNS
    # owned reservations go to their teams, not to FinOps
    assert "ri-urgent" not in text and "rds-sandbox" not in text
    assert "Runbook: https://github.com/" in text
    # The partial renewal says how much is covered and what is not.
    assert "ec2 reservation ri-partial in finance expires in" in text
    assert "renewals cover 75% of it" in text
    assert "not covered: 1 of 4 instances, 0.10 USD/h" in text


def rule_expressions() -> list[tuple[str, str]]:
    rules = yaml.safe_load((MONITORING / "alerts.yaml").read_text())
    return [
        (rule.get("record") or rule["alert"], rule["expr"])
        for group in rules["groups"]
        for rule in group["rules"]
    ]


def test_every_rule_and_dashboard_expression_runs_on_the_real_prometheus(stack: Stack) -> None:
    wait_until(lambda: set(firing(stack)) >= EXPECTED, 120, "the alerts to fire")
    empty = []
    for where, expr in rule_expressions() + dashboard_queries(load_dashboard()):
        answer = prometheus_query(stack.prometheus, expr)
        assert answer["status"] == "success", (where, answer.get("error"), expr)
        result = answer["data"]["result"]
        if not result and where not in QUIET_ALERTS:
            empty.append(where)
    assert empty == [], "expressions with no result"


def test_every_selector_matches_a_scraped_or_recorded_series(stack: Stack) -> None:
    wait_until(lambda: set(firing(stack)) >= EXPECTED, 120, "the alerts to fire")
    selectors = set()
    for _, expr in rule_expressions() + dashboard_queries(load_dashboard()):
        for name, matchers in re.findall(r"\b(aws_reservation[\w:]*|up)\b(\{[^{}]*\})?", expr):
            selectors.add(name + matchers)
    missing = [
        s
        for s in sorted(selectors)
        if not prometheus_query(stack.prometheus, f"count({s})")["data"]["result"]
    ]
    assert missing == []
    assert len(selectors) > 25


def delivered_to(stack: Stack, receiver: str) -> dict[str, dict[str, str]]:
    """reservation id -> labels of the firing alerts a webhook receiver got."""
    return {
        a["labels"]["reservation_id"]: a["labels"]
        for message in stack.sink.messages(receiver)
        for a in message["alerts"]
        if a["status"] == "firing" and "reservation_id" in a["labels"]
    }


def test_alerts_reach_the_team_that_owns_the_reservation(stack: Stack) -> None:
    wait_until(
        lambda: (
            "ri-urgent" in delivered_to(stack, "team-payments")
            and "rds-sandbox" in delivered_to(stack, "team-search")
        ),
        120,
        "the team routes",
    )
    # A reservation's own tag...
    urgent = delivered_to(stack, "team-payments")["ri-urgent"]
    assert (urgent["team"], urgent["account"]) == ("payments", "finance")
    assert urgent["ou_path"] == "Root" and urgent["payer_account_id"] == OWN_ACCOUNT
    # ... else its account's tag, with the account's OU.
    sandbox = delivered_to(stack, "team-search")["rds-sandbox"]
    assert (sandbox["team"], sandbox["ou_path"]) == ("search", "Root/Sandbox")
    # Nothing another team owns reaches them; unowned ones stay with FinOps.
    assert set(delivered_to(stack, "team-payments")) == {"ri-urgent"}
    assert "team" not in delivered_to(stack, "oncall-sns")["rds-critical"]


def rule_evaluation_failures(stack: Stack) -> float:
    with urllib.request.urlopen(f"{stack.prometheus}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    counters = [
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("prometheus_rule_evaluation_failures_total{")
    ]
    assert counters, "Prometheus exports no rule evaluation failure counters"
    return sum(counters)


# Last in this module: it changes a tag, so the alert set changes afterwards.
def test_a_tag_change_moves_the_alert_without_a_rule_failure(stack: Stack) -> None:
    wait_until(lambda: "ri-urgent" in delivered_to(stack, "team-payments"), 120, "payments")
    before = rule_evaluation_failures(stack)
    stack.fake.tag_reservation(OWN_ACCOUNT, "us-east-1", "ec2", "ri-urgent", {"Team": "search"})
    # The next refresh (15 s) reads the new tag; the alert now carries it.
    wait_until(lambda: "ri-urgent" in delivered_to(stack, "team-search"), 120, "search")
    assert delivered_to(stack, "team-search")["ri-urgent"]["team"] == "search"
    time.sleep(3)  # a few more evaluations with both series inside every range
    assert rule_evaluation_failures(stack) == before
    owner = prometheus_query(stack.prometheus, 'aws_reservation:owner{reservation_id="ri-urgent"}')[
        "data"
    ]["result"]
    assert [r["metric"]["team"] for r in owner] == ["search"]
