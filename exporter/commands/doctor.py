"""``aws-reservation-exporter doctor``: can the exporter read everything it is
configured to read, and if not, exactly what to change.

For every account: can its credentials be had (AssumeRole, profile, MFA)?
For every service and region: is its read call allowed? It calls each with
the smallest page (EC2 with DryRun), plus ec2:DescribeRegions for
``regions: all`` and organizations:ListAccounts for discovery. Anything
missing gets the IAM statement to add. Exit status: 0 all allowed, 1
something is missing, 2 bad flags or configuration.

AWS answers the same AccessDenied to AssumeRole for a missing role, an
untrusted caller, a wrong ExternalId or a missing MFA condition, so the
doctor lists those causes instead of guessing one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import Any, TextIO

from botocore.exceptions import ClientError

from exporter.accounts import AccountDirectory, role_account
from exporter.aws import AccountSession, ClientFactory, ProfileError, account_of_arn, home_region
from exporter.aws.errors import describe_error, failure_reason
from exporter.aws.profiles import Prompter
from exporter.commands.configs import command_config
from exporter.commands.console import Progress, is_tty, log_to
from exporter.commands.exits import EXIT_INTERRUPTED, EXIT_MISSING, EXIT_OK, EXIT_USAGE
from exporter.commands.flags import add_config_flag, add_demo_flag, add_logging_flags
from exporter.commands.prompter import terminal_prompter
from exporter.costexplorer.catalog import RI_SERVICES
from exporter.costexplorer.parse import reservation_row, savings_plan_row
from exporter.model import Account
from exporter.services import REGISTRY
from exporter.services.base import ServiceSpec
from exporter.terminal import format_table, json_safe, printable

OK = "ok"
DENIED = "denied"
FAILED = "failed"
NOT_CHECKED = "not checked"


def read_policy(actions: Sequence[str]) -> dict[str, Any]:
    """An identity policy allowing ``actions`` (these read calls take no resource ARN)."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReservationExporterRead",
                "Effect": "Allow",
                "Action": sorted(set(actions)),
                "Resource": "*",
            }
        ],
    }


def principal_of(caller_arn: str) -> str:
    """The IAM principal to trust for a caller: an assumed-role session becomes its role."""
    parts = caller_arn.split(":", 5)
    if len(parts) == 6 and parts[2] == "sts" and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return caller_arn


# ---------------------------------------------------------------------- findings


@dataclass(frozen=True)
class Check:
    """One line of the table."""

    account: str
    account_id: str
    check: str
    status: str  # ok | denied | failed | not checked
    where: str = ""  # regions, or why not checked


@dataclass(frozen=True)
class Fix:
    """What to change for one problem, for people and for JSON."""

    account: str
    account_id: str
    problem: str
    aws_message: str = ""
    causes: tuple[str, ...] = ()
    attach_to: str = ""  # the identity whose policy needs ``policy``
    policy: dict[str, Any] | None = None
    trust_statement: dict[str, Any] | None = None


@dataclass
class Diagnosis:
    identity: str | None = None
    checks: list[Check] = field(default_factory=list)
    fixes: list[Fix] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(c.status == OK for c in self.checks) and not self.fixes

    def add(self, other: Diagnosis) -> None:
        self.checks.extend(other.checks)
        self.fixes.extend(other.fixes)


@dataclass(frozen=True)
class Probe:
    """One call to try: a service's listing, or (``tags``) its tag read."""

    spec: ServiceSpec
    action: str  # the IAM action it needs
    tags: bool = False


@dataclass(frozen=True)
class Access:
    """An account whose credentials work, ready for the service probes."""

    account: Account
    session: AccountSession
    caller_arn: str
    regions: tuple[str, ...]


# ------------------------------------------------------------------------ checks


class Doctor:
    """Runs every check of one configuration through the exporter's own client code."""

    def __init__(self, config: Any, factory: ClientFactory) -> None:
        self.config = config
        self.factory = factory
        self.directory = AccountDirectory(config, factory)

    def run(self) -> Diagnosis:
        result = Diagnosis()
        result.identity = self._own_identity(result)
        self._check_organizations(result)
        self._check_cost_explorer(result)
        accounts, problems = self.directory.accounts()  # as the refresher sees them
        per_account: dict[str, Diagnosis] = {}
        for problem in problems:
            per_account[problem.account.name] = self._unreachable(problem.account, problem.error)
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            outcomes = list(pool.map(self._access, accounts))
            probes = [
                (access, probe, region)
                for access, _ in outcomes
                if access is not None
                for probe, region in self._targets(access)
            ]
            answers = list(pool.map(lambda p: self._probe(*p), probes))
        services = self._aggregate(probes, answers)
        for account, (_, found) in zip(accounts, outcomes, strict=True):
            found.add(services.get(account.name, Diagnosis()))
            per_account[account.name] = found
        order = [a.name for a in self.config.accounts]
        for name in sorted(per_account, key=lambda n: (n not in order, _index(order, n), n)):
            result.add(per_account[name])
        return result

    # -- identities -----------------------------------------------------------

    def _own_identity(self, result: Diagnosis) -> str | None:
        """The exporter's own ARN, when any account or discovery relies on it."""
        needed = self.config.organizations.enabled or any(
            a.profile is None for a in self.config.accounts
        )
        if not needed:
            return None
        try:
            return self.directory.own_arn()
        except Exception as exc:
            result.checks.append(Check("(exporter)", "", "own credentials", _status(exc)))
            result.fixes.append(
                Fix(
                    "(exporter)",
                    "",
                    "the exporter's own credentials do not work",
                    describe_error(exc),
                    (
                        "no credentials in the standard chain (environment, shared files, "
                        "IRSA/web identity, instance or container role)",
                        "the credentials are expired or revoked",
                    ),
                )
            )
            return None

    def _check_organizations(self, result: Diagnosis) -> None:
        """What the exporter reads from Organizations: ListAccounts where discovery
        calls it, and each account's tags, OU path and management account."""
        org = self.config.organizations
        if not self.directory.reads_organization:
            return
        who = org.role_arn or result.identity or "the exporter's own identity"
        reader_id = account_of_arn(org.role_arn) if org.role_arn else ""
        try:
            session, region = self.directory.organization_access()
            client = self.factory.client(session, "organizations", region)
            if org.enabled:
                client.list_accounts(MaxResults=1)
        except Exception as exc:
            action = "organizations:ListAccounts"
            result.checks.append(Check("(organizations)", "", action, _status(exc)))
            result.fixes.append(
                Fix(
                    "(organizations)",
                    reader_id,
                    f"cannot list the organization's accounts ({action})",
                    describe_error(exc),
                    (
                        "organizations.role_arn cannot be assumed (see its trust policy)"
                        if org.role_arn
                        else "the exporter's own identity is not in the management or a "
                        "delegated administrator account",
                        f"{who} is not allowed {action}",
                    ),
                    attach_to=who,
                    policy=read_policy([action]),
                )
            )
            return
        if org.enabled:
            result.checks.append(
                Check("(organizations)", reader_id, "organizations:ListAccounts", OK)
            )
        self._check_organization_metadata(result, client, who, reader_id)

    def _check_organization_metadata(
        self, result: Diagnosis, client: Any, who: str, reader_id: str
    ) -> None:
        """The reads behind aws_reservation_account_info (account tags, OU path,
        payer); "not found" for the probe's made-up ids means allowed."""
        try:
            organization = client.describe_organization()["Organization"]
            payer = organization.get("MasterAccountId") or ""
            answers: list[tuple[str, BaseException | None]] = [
                ("organizations:DescribeOrganization", None)
            ]
        except Exception as exc:
            payer, answers = "", [("organizations:DescribeOrganization", exc)]
        probes: list[tuple[str, Callable[[], Any]]] = [
            ("organizations:ListParents", lambda: client.list_parents(ChildId=payer)),
            (
                "organizations:ListTagsForResource",
                lambda: client.list_tags_for_resource(ResourceId=payer),
            ),
            (
                "organizations:DescribeOrganizationalUnit",
                lambda: client.describe_organizational_unit(
                    OrganizationalUnitId="ou-0000-00000000"
                ),
            ),
        ]
        for action, call in probes if payer else []:
            try:
                call()
                answers.append((action, None))
            except ClientError as exc:
                answers.append((action, exc if _status(exc) == DENIED else None))
            except Exception as exc:
                answers.append((action, exc))
        missing = [action for action, exc in answers if exc is not None and _is_denied(exc)]
        for action, exc in answers:
            status = OK if exc is None else _status(exc)
            result.checks.append(Check("(organizations)", reader_id, action, status, "owners"))
            if exc is not None and not _is_denied(exc):
                result.fixes.append(
                    Fix("(organizations)", reader_id, f"{action} failed", describe_error(exc))
                )
        if missing:
            example = next(exc for action, exc in answers if action in missing)
            result.fixes.append(
                Fix(
                    "(organizations)",
                    reader_id,
                    f"denied: {', '.join(missing)} (account tags and OU paths stay empty)",
                    describe_error(example) if example is not None else "",
                    (f"{who} is not allowed these read actions",),
                    attach_to=who,
                    policy=read_policy(missing),
                )
            )

    def _check_cost_explorer(self, result: Diagnosis) -> None:
        """The two Cost Explorer calls, one small page each, with one parsed row
        as a sample (each request costs 0.01 USD)."""
        ce = self.config.cost_explorer
        if not ce.enabled:
            return
        who = ce.role_arn or result.identity or "the exporter's own identity"
        reader_id = account_of_arn(ce.role_arn) if ce.role_arn else ""
        today = datetime.now(timezone.utc).date()
        period = {"Start": (today - timedelta(days=1)).isoformat(), "End": today.isoformat()}
        try:
            client = self._cost_explorer_client()
        except Exception as exc:
            result.checks.append(
                Check("(cost explorer)", reader_id, "sts:AssumeRole", _status(exc))
            )
            result.fixes.append(
                Fix("(cost explorer)", reader_id, f"cannot reach {who}", describe_error(exc))
            )
            return
        probes: list[tuple[str, Callable[[], str]]] = [
            (
                "ce:GetReservationUtilization",
                lambda: _sample_ri(
                    client.get_reservation_utilization(
                        TimePeriod=period,
                        GroupBy=[{"Type": "DIMENSION", "Key": "SUBSCRIPTION_ID"}],
                        Filter={"Dimensions": {"Key": "SERVICE", "Values": [RI_SERVICES["ec2"]]}},
                        MaxResults=1,
                    )
                ),
            ),
            (
                "ce:GetSavingsPlansUtilizationDetails",
                lambda: _sample_sp(
                    client.get_savings_plans_utilization_details(TimePeriod=period, MaxResults=1)
                ),
            ),
        ]
        missing: list[str] = []
        for action, call in probes:
            try:
                sample = call()
            except Exception as exc:
                result.checks.append(Check("(cost explorer)", reader_id, action, _status(exc)))
                if _is_denied(exc):
                    missing.append(action)
                else:
                    result.fixes.append(
                        Fix("(cost explorer)", reader_id, f"{action} failed", describe_error(exc))
                    )
                continue
            result.checks.append(Check("(cost explorer)", reader_id, action, OK, sample))
        if missing:
            result.fixes.append(
                Fix(
                    "(cost explorer)",
                    reader_id,
                    f"denied: {', '.join(missing)}",
                    "",
                    (f"{who} is not allowed these actions (management account only)",),
                    attach_to=who,
                    policy=read_policy(missing),
                )
            )

    def _cost_explorer_client(self) -> Any:
        ce = self.config.cost_explorer
        if ce.role_arn:
            session = self.factory.session_for(
                role_account(self.config, "cost-explorer", ce.role_arn)
            )
        else:
            session = self.factory.own()
        return self.factory.client(session, "ce", home_region(session.partition))

    def _unreachable(self, account: Account, exc: BaseException) -> Diagnosis:
        aid = account.account_id or ""
        return Diagnosis(
            checks=[
                Check(account.name, aid, _access_label(account), _status(exc)),
                Check(account.name, aid, "read calls", NOT_CHECKED, "no credentials"),
            ],
            fixes=[self._access_fix(account, exc)],
        )

    def _access(self, account: Account) -> tuple[Access | None, Diagnosis]:
        """Whether the account's credentials work (assuming its role), and its regions."""
        if account.via is not None and not self._reachable(account.via):
            # Its own role cannot be judged before the account it is assumed from works.
            aid = account.account_id or ""
            return None, Diagnosis(
                checks=[
                    Check(
                        account.name,
                        aid,
                        _access_label(account),
                        NOT_CHECKED,
                        f"{account.via.name} cannot be reached",
                    ),
                ],
                fixes=[Fix(account.name, aid, f"reached via {account.via.name!r}: fix that first")],
            )
        try:
            session = self.factory.session_for(account)
            sts = self.factory.client(session, "sts", home_region(session.partition))
            caller = sts.get_caller_identity()
        except Exception as exc:
            return None, self._unreachable(account, exc)
        aid = account.account_id or caller["Account"]
        account = replace(account, account_id=aid)
        found = Diagnosis(checks=[Check(account.name, aid, _access_label(account), OK)])
        try:
            regions = self.directory.regions_for(account)
        except Exception as exc:
            found.checks.append(
                Check(account.name, aid, "ec2:DescribeRegions", _status(exc), 'for regions: "all"')
            )
            found.fixes.append(
                self._service_fix(account, caller["Arn"], ["ec2:DescribeRegions"], exc)
            )
            regions = ()
        else:
            if account.regions is None:  # regions: all
                found.checks.append(
                    Check(account.name, aid, "ec2:DescribeRegions", OK, f"{len(regions)} regions")
                )
        return Access(account, session, caller["Arn"], tuple(regions)), found

    def _access_fix(self, account: Account, exc: BaseException) -> Fix:
        message = describe_error(exc)
        aid = account.account_id or ""
        if isinstance(exc, ProfileError):
            return Fix(account.name, aid, str(exc))
        if "MultiFactorAuthentication" in message:
            return Fix(
                account.name,
                aid,
                f"the MFA code for profile {account.profile!r} was refused",
                message,
                (
                    "the code was mistyped, expired or already used: codes are single-use",
                    "mfa_serial names another device than the one that made the code",
                ),
            )
        if account.profile:
            return Fix(
                account.name,
                aid,
                f"profile {account.profile!r} gives no working credentials",
                message,
                _assume_causes(account, "the profile's source identity"),
            )
        if not account.role_arn:
            return Fix(account.name, aid, "the exporter's own credentials do not work", message)
        if not _is_denied(exc):  # throttling, a bad DurationSeconds...: AWS said what
            return Fix(account.name, aid, f"cannot assume {account.role_arn}", message)
        caller = (
            f"the role of account {account.via.name!r}"
            if account.via is not None
            else "the exporter's identity"
        )
        principal = self._caller_principal(account)
        trust: dict[str, Any] = {
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": "sts:AssumeRole",
        }
        if account.external_id:
            trust["Condition"] = {
                "StringEquals": {"sts:ExternalId": f"<external_id configured for {account.name}>"}
            }
        return Fix(
            account.name,
            aid,
            f"cannot assume {account.role_arn}",
            message,
            _assume_causes(account, caller),
            attach_to=principal,
            policy={
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": account.role_arn}
                ],
            },
            trust_statement=trust,
        )

    def _caller_principal(self, account: Account) -> str:
        if account.via is not None:
            return account.via.role_arn or f"<the role of account {account.via.name}>"
        return principal_of(self.directory.own_arn()) if self._own_known() else "<exporter ARN>"

    def _reachable(self, account: Account) -> bool:
        """Whether ``account`` has working credentials (sessions are cached)."""
        try:
            session = self.factory.session_for(account)
            credentials = session.credentials()
            return credentials is not None and bool(credentials.get_frozen_credentials())
        except Exception:
            return False

    def _own_known(self) -> bool:
        try:
            self.directory.own_arn()
        except Exception:
            return False
        return True

    # -- service probes -------------------------------------------------------

    def _targets(self, access: Access) -> list[tuple[Probe, str]]:
        """What to try where: each service's listing in each region, and with
        owner_labels its tag read (once: IAM is not regional)."""
        home = home_region(access.session.partition)
        targets: list[tuple[Probe, str]] = []
        for name in access.account.services:
            spec = REGISTRY.get(name)
            if spec is None:
                continue
            if spec.is_global:
                targets.append((Probe(spec, spec.iam_action), home))
                continue
            known = set(self.factory.available_regions(spec.client_name, access.session.partition))
            regions = [r for r in access.regions if not known or r in known]
            targets.extend((Probe(spec, spec.iam_action), r) for r in regions)
            if self.config.owner_labels and spec.tags_iam_action and regions:
                targets.append((Probe(spec, spec.tags_iam_action, tags=True), regions[0]))
        return targets

    def _probe(self, access: Access, probe: Probe, region: str) -> BaseException | None:
        spec = probe.spec
        try:
            client = self.factory.client(access.session, spec.client_name, region)
            if probe.tags:
                arn = (spec.tags_probe_arn or "").format(
                    partition=access.session.partition,
                    region=region,
                    account=access.account.account_id,
                    probe="aws-reservation-exporter-doctor",
                )
                assert spec.read_tags is not None
                spec.read_tags(client, arn)
            else:
                getattr(client, spec.method_name)(**spec.probe_args)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "DryRunOperation":
                return None  # EC2: "the request would have succeeded"
            if probe.tags and _status(exc) != DENIED:
                return None  # no such reservation: the read itself is allowed
            return exc
        except Exception as exc:
            return exc
        return None

    def _aggregate(
        self,
        probes: list[tuple[Access, Probe, str]],
        answers: list[BaseException | None],
    ) -> dict[str, Diagnosis]:
        """One row per account, action and outcome; one fix per account for what is denied."""
        grouped: dict[str, dict[str, list[tuple[Access, Probe, str, Any]]]] = {}
        for (access, probe, region), answer in zip(probes, answers, strict=True):
            by_action = grouped.setdefault(access.account.name, {})
            by_action.setdefault(probe.action, []).append((access, probe, region, answer))
        out: dict[str, Diagnosis] = {}
        for name, by_service in grouped.items():
            found = out.setdefault(name, Diagnosis())
            missing: list[str] = []
            example: BaseException | None = None
            access = next(iter(by_service.values()))[0][0]
            aid = access.account.account_id or ""
            for action, items in by_service.items():
                spec = items[0][1].spec
                outcomes = [(region, answer) for _, _, region, answer in items]
                for status in (OK, DENIED, FAILED):
                    regions = [r for r, a in outcomes if _outcome(a) == status]
                    if regions:
                        where = "global" if spec.is_global else ", ".join(regions)
                        found.checks.append(Check(name, aid, action, status, where))
                for region, answer in outcomes:
                    if answer is None:
                        continue
                    if _status(answer) == DENIED:
                        example = example or answer
                        if action not in missing:
                            missing.append(action)
                    else:
                        found.fixes.append(
                            Fix(name, aid, f"{action} failed in {region}", describe_error(answer))
                        )
            if missing:
                found.fixes.append(
                    self._service_fix(access.account, access.caller_arn, missing, example)
                )
        return out

    def _service_fix(
        self, account: Account, caller_arn: str, actions: list[str], exc: BaseException | None
    ) -> Fix:
        principal = account.role_arn or principal_of(caller_arn)
        message = describe_error(exc) if exc is not None else ""
        causes = ["the identity's policies do not allow these actions"]
        if "service control policy" in message or "explicit deny" in message:
            causes.insert(
                0,
                "an explicit deny (a service control policy or permission "
                "boundary) blocks them; an Allow alone will not help",
            )
        return Fix(
            account.name,
            account.account_id or "",
            f"denied: {', '.join(actions)}",
            message,
            tuple(causes),
            attach_to=principal,
            policy=read_policy(actions),
        )


def _access_label(account: Account) -> str:
    if account.profile:
        return f"profile {account.profile}"
    if account.role_arn:
        via = f" (via {account.via.name})" if account.via is not None else ""
        return f"sts:AssumeRole {account.role_arn.split(':', 5)[5]}{via}"
    return "own credentials"


def _assume_causes(account: Account, caller: str) -> tuple[str, ...]:
    """Every reason AWS hides behind one AccessDenied for AssumeRole."""
    external = (
        "the role's trust policy requires an sts:ExternalId different from the one "
        "configured for this account"
        if account.external_id
        else "the role's trust policy requires an sts:ExternalId and none is configured "
        "(set external_id)"
    )
    return (
        "the role does not exist (a typo in its name, path or account id)",
        f"the role's trust policy does not trust {caller}",
        external,
        "the role's trust policy requires MFA (aws:MultiFactorAuthPresent): only a profile "
        "with mfa_serial, used by `report` or `doctor`, can satisfy it",
        f"{caller} is not allowed sts:AssumeRole on this role (its own policy or an SCP)",
    )


def _sample_ri(answer: Any) -> str:
    """One parsed row of a GetReservationUtilization answer, for people."""
    for by_time in answer.get("UtilizationsByTime") or ():
        for group in by_time.get("Groups") or ():
            row = reservation_row(group, "ec2", 24.0)
            return _sample(row)
    return "no EC2 reservation in the last day"


def _sample_sp(answer: Any) -> str:
    for detail in answer.get("SavingsPlansUtilizationDetails") or ():
        return _sample(savings_plan_row(detail, datetime.now(timezone.utc).timestamp()))
    return "no Savings Plan in the last day"


def _sample(row: Any) -> str:
    r = row.reservation
    used = "" if r.utilization is None else f", {r.utilization:.0%} used"
    end = datetime.fromtimestamp(r.end, tz=timezone.utc).strftime("%Y-%m-%d")
    return printable(
        f"sample: {row.service} {r.reservation_id} of {row.account_id} ends {end}{used}"
    )


def _is_denied(exc: BaseException) -> bool:
    return failure_reason(exc) == "denied"


def _outcome(answer: BaseException | None) -> str:
    return OK if answer is None else _status(answer)


def _index(order: list[str], name: str) -> int:
    return order.index(name) if name in order else len(order)


def _status(exc: BaseException) -> str:
    return DENIED if _is_denied(exc) else FAILED


# ---------------------------------------------------------------------- rendering


def render_text(diagnosis: Diagnosis) -> str:
    """The table and what to fix, for a terminal: every value that comes from AWS or
    Organizations (names, ARNs, AWS's messages) has its control characters escaped."""
    p = printable
    lines = []
    if diagnosis.identity:
        lines.append(f"exporter identity: {p(diagnosis.identity)}\n\n")
    rows = [
        (
            c.account,
            c.account_id or "-",
            c.check,
            c.status.upper() if c.status != OK else OK,
            c.where,
        )
        for c in diagnosis.checks
    ]
    lines.append(format_table(("ACCOUNT", "ACCOUNT ID", "CHECK", "RESULT", "WHERE"), rows))
    if diagnosis.ok:
        lines.append("\nEverything the configuration needs is allowed.\n")
        return "".join(lines)
    lines.append("\nWhat to fix:\n")
    for fix in diagnosis.fixes:
        lines.append(
            f"\n* {p(fix.account)}" + (f" ({p(fix.account_id)})" if fix.account_id else "")
        )
        lines.append(f": {p(fix.problem)}\n")
        if fix.aws_message:
            lines.append(f"  AWS said: {p(fix.aws_message)}\n")
        if len(fix.causes) > 1:
            lines.append("  AWS gives the same answer for each of these; check them in turn:\n")
        lines.extend(f"    - {p(cause)}\n" for cause in fix.causes)
        if fix.trust_statement:
            lines.append("  The role's trust policy needs a statement like:\n")
            lines.append(_indent(json_safe(json.dumps(fix.trust_statement, indent=2)), 4))
        if fix.policy:
            lines.append(f"  Add to the policy of {p(fix.attach_to)}:\n")
            lines.append(_indent(json_safe(json.dumps(fix.policy, indent=2)), 4))
    return "".join(lines)


def render_json(diagnosis: Diagnosis) -> str:
    document = {
        "ok": diagnosis.ok,
        "identity": diagnosis.identity,
        "checks": [asdict(c) for c in diagnosis.checks],
        "fixes": [asdict(f) for f in diagnosis.fixes],
    }
    return json_safe(json.dumps(document, indent=2)) + "\n"


def _indent(text: str, spaces: int) -> str:
    pad = " " * spaces
    return "".join(f"{pad}{line}\n" for line in text.splitlines())


# --------------------------------------------------------------------------- CLI


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aws-reservation-exporter doctor",
        description="Check that every configured account can be reached and every read "
        "call is allowed; print the IAM statements to add for anything missing.",
        epilog="Exit status: 0 everything allowed; 1 something missing; 2 bad flags or "
        "configuration.",
    )
    add_config_flag(parser)
    parser.add_argument(
        "--format", choices=("table", "json"), default="table", help="(default: %(default)s)"
    )
    add_demo_flag(parser, "check the embedded fake AWS")
    add_logging_flags(parser)
    parser.set_defaults(log_level="error")  # every problem is in the output already
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    prompter: Prompter | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Run the doctor; returns the exit status. ``prompter`` asks for MFA codes."""
    from exporter.logs import setup_logging

    out = stdout or sys.stdout
    err = stderr or sys.stderr
    opts = build_parser().parse_args(list(sys.argv[2:] if argv is None else argv))
    setup_logging(opts.log_level, opts.log_format)
    log_to(err)
    with contextlib.ExitStack() as stack:
        config = command_config(opts, stack, err)
        if config is None:
            return EXIT_USAGE
        progress = Progress(err, lambda: "checking accounts and permissions", enabled=is_tty(err))
        factory = ClientFactory(
            concurrency=config.concurrency,
            mfa_prompter=progress.guard_prompter(prompter or terminal_prompter),
        )
        try:
            with progress, progress.guard_logging():
                diagnosis = Doctor(config, factory).run()
        except KeyboardInterrupt:
            print("interrupted", file=err)
            return EXIT_INTERRUPTED
    out.write(render_json(diagnosis) if opts.format == "json" else render_text(diagnosis))
    out.flush()
    return EXIT_OK if diagnosis.ok else EXIT_MISSING
