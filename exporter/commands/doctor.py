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
from typing import Any, TextIO

from botocore.exceptions import ClientError

from exporter.accounts import AccountDirectory
from exporter.aws import AccountSession, ClientFactory, ProfileError, account_of_arn, home_region
from exporter.aws.errors import describe_error, failure_reason
from exporter.commands.report import Progress, command_config, is_tty, log_to
from exporter.model import Account
from exporter.services import REGISTRY
from exporter.services.base import ServiceSpec
from exporter.terminal import format_table, json_safe, printable

EXIT_OK = 0
EXIT_MISSING = 1
EXIT_USAGE = 2

Prompter = Callable[[str], str]

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
        accounts, problems = self.directory.accounts()  # as the refresher sees them
        per_account: dict[str, Diagnosis] = {}
        for problem in problems:
            per_account[problem.account.name] = self._unreachable(problem.account, problem.error)
        with ThreadPoolExecutor(max_workers=self.config.concurrency) as pool:
            outcomes = list(pool.map(self._access, accounts))
            probes = [
                (access, spec, region)
                for access, _ in outcomes
                if access is not None
                for spec, region in self._targets(access)
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
        """organizations:ListAccounts with the smallest page, where discovery calls it."""
        org = self.config.organizations
        if not org.enabled:
            return
        reader = (
            Account(
                name="organizations",
                account_id=account_of_arn(org.role_arn),
                role_arn=org.role_arn,
                external_id=self.config.defaults.external_id,
                session_name=self.config.defaults.session_name,
            )
            if org.role_arn
            else Account(name="organizations")
        )
        action = "organizations:ListAccounts"
        try:
            session = self.factory.session_for(reader)
            region = home_region(session.partition)
            client = self.factory.client(session, "organizations", region)
            client.list_accounts(MaxResults=1)
        except Exception as exc:
            who = org.role_arn or result.identity or "the exporter's own identity"
            result.checks.append(Check("(organizations)", "", action, _status(exc)))
            result.fixes.append(
                Fix(
                    "(organizations)",
                    reader.account_id or "",
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
        result.checks.append(Check("(organizations)", reader.account_id or "", action, OK))

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
        if account.via and not self._reachable(account.via):
            # Its own role cannot be judged before the account it is assumed from works.
            aid = account.account_id or ""
            return None, Diagnosis(
                checks=[
                    Check(
                        account.name,
                        aid,
                        _access_label(account),
                        NOT_CHECKED,
                        f"{account.via} cannot be reached",
                    ),
                ],
                fixes=[Fix(account.name, aid, f"reached via {account.via!r}: fix that first")],
            )
        try:
            session = self.factory.session_for(account, self.directory.static_by_name)
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
            if _all_regions(account, self.config):
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
            f"the role of account {account.via!r}" if account.via else "the exporter's identity"
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
        if account.via:
            with contextlib.suppress(KeyError):
                via = self.directory.static_by_name(account.via)
                if via.role_arn:
                    return via.role_arn
            return f"<the role of account {account.via}>"
        return principal_of(self.directory.own_arn()) if self._own_known() else "<exporter ARN>"

    def _reachable(self, name: str) -> bool:
        """Whether the static account ``name`` has working credentials (sessions are cached)."""
        try:
            via = self.directory.static_by_name(name)
            session = self.factory.session_for(via, self.directory.static_by_name)
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

    def _targets(self, access: Access) -> list[tuple[ServiceSpec, str]]:
        home = home_region(access.session.partition)
        targets = []
        for name in self.directory.services_for(access.account):
            spec = REGISTRY.get(name)
            if spec is None:
                continue
            if spec.is_global:
                targets.append((spec, home))
                continue
            known = set(self.factory.available_regions(spec.client_name, access.session.partition))
            targets.extend((spec, r) for r in access.regions if not known or r in known)
        return targets

    def _probe(self, access: Access, spec: ServiceSpec, region: str) -> BaseException | None:
        try:
            client = self.factory.client(access.session, spec.client_name, region)
            getattr(client, spec.method_name)(**spec.probe_args)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "DryRunOperation":
                return None  # EC2: "the request would have succeeded"
            return exc
        except Exception as exc:
            return exc
        return None

    def _aggregate(
        self,
        probes: list[tuple[Access, ServiceSpec, str]],
        answers: list[BaseException | None],
    ) -> dict[str, Diagnosis]:
        """One row per account, service and outcome; one fix per account for what is denied."""
        grouped: dict[str, dict[str, list[tuple[Access, ServiceSpec, str, Any]]]] = {}
        for (access, spec, region), answer in zip(probes, answers, strict=True):
            by_service = grouped.setdefault(access.account.name, {})
            by_service.setdefault(spec.name, []).append((access, spec, region, answer))
        out: dict[str, Diagnosis] = {}
        for name, by_service in grouped.items():
            found = out.setdefault(name, Diagnosis())
            missing: list[str] = []
            example: BaseException | None = None
            access = next(iter(by_service.values()))[0][0]
            aid = access.account.account_id or ""
            for items in by_service.values():
                spec = items[0][1]
                action = spec.iam_action
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
        via = f" (via {account.via})" if account.via else ""
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


def _all_regions(account: Account, config: Any) -> bool:
    regions = account.regions if account.regions is not None else config.regions
    return regions == "all" or tuple(regions) == ("all",)


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
    from exporter.commands.daemon import add_config_flag, add_logging_flags

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
    parser.add_argument(
        "--demo",
        action="store_true",
        help="check the embedded fake AWS with demo data (needs the [demo] extra)",
    )
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
    from exporter.aws.profiles import terminal_prompter
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
            return 130
    out.write(render_json(diagnosis) if opts.format == "json" else render_text(diagnosis))
    out.flush()
    return EXIT_OK if diagnosis.ok else EXIT_MISSING
