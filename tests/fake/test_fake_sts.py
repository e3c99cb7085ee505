"""STS at the fake is as strict as AWS: registered roles, ExternalId, trust,
MFA, session durations, role chaining and expiring session keys."""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest

from tests.fake.conftest import error_of, session_client
from tests.support import OWN_ACCOUNT

PROD = "222222222222"
ROLE = f"arn:aws:iam::{PROD}:role/ReservationExporter"
CALLER = f"arn:aws:sts::{OWN_ACCOUNT}:user/moto"  # what GetCallerIdentity says for the own keys
MFA = f"arn:aws:iam::{OWN_ACCOUNT}:mfa/alice"


def denied_message(role_arn: str, caller: str = CALLER) -> str:
    return f"User: {caller} is not authorized to perform: sts:AssumeRole on resource: {role_arn}"


def assume(fake, role_arn: str = ROLE, account: str = OWN_ACCOUNT, **kwargs):
    return fake.client("sts", account).assume_role(
        RoleArn=role_arn, RoleSessionName="exporter", **kwargs
    )


def test_unregistered_role_is_refused_like_aws(fake):
    assert error_of(lambda: assume(fake)) == ("AccessDenied", denied_message(ROLE), 403)


def test_right_external_id_assumes_the_role_in_its_account(fake):
    fake.add_role(ROLE, external_id="ext-42")

    credentials = assume(fake, ExternalId="ext-42")["Credentials"]

    identity = session_client(fake, credentials, "sts").get_caller_identity()
    assert identity["Account"] == PROD
    assert identity["Arn"] == f"arn:aws:sts::{PROD}:assumed-role/ReservationExporter/exporter"


@pytest.mark.parametrize("external_id", [None, "ext-wrong"])
def test_missing_or_wrong_external_id_is_refused_with_the_trust_message(fake, external_id):
    fake.add_role(ROLE, external_id="ext-42")
    kwargs = {"ExternalId": external_id} if external_id else {}

    assert error_of(lambda: assume(fake, **kwargs)) == ("AccessDenied", denied_message(ROLE), 403)


def test_an_external_id_the_role_does_not_require_is_ignored(fake):
    fake.add_role(ROLE)
    assert assume(fake, ExternalId="anything")["AssumedRoleUser"]["Arn"].endswith("/exporter")


def test_only_trusted_accounts_may_assume(fake):
    fake.add_role(ROLE, trusted_account_ids=[OWN_ACCOUNT])

    assert assume(fake)["Credentials"]["AccessKeyId"]
    outsider = "arn:aws:sts::333333333333:user/moto"
    assert error_of(lambda: assume(fake, account="333333333333")) == (
        "AccessDenied",
        denied_message(ROLE, outsider),
        403,
    )


def test_assumed_keys_read_the_roles_accounts_data(fake):
    fake.add_role(ROLE)
    fake.seed(PROD, "us-east-1", "rds", [{"ReservedDBInstanceId": "prod-db"}])
    fake.seed(OWN_ACCOUNT, "us-east-1", "rds", [{"ReservedDBInstanceId": "own-db"}])

    rds = session_client(fake, assume(fake)["Credentials"], "rds")

    assert [
        r["ReservedDBInstanceId"]
        for r in rds.describe_reserved_db_instances()["ReservedDBInstances"]
    ] == ["prod-db"]


def test_duration_seconds_sets_the_expiration(fake):
    fake.add_role(ROLE, max_session_seconds=7200)
    before = datetime.now(timezone.utc)

    expiration = assume(fake, DurationSeconds=5400)["Credentials"]["Expiration"]

    assert 5390 <= (expiration - before).total_seconds() <= 5460


def test_duration_beyond_the_roles_maximum_is_a_validation_error(fake):
    fake.add_role(ROLE)  # MaxSessionDuration 1 h, as IAM's default
    assert error_of(lambda: assume(fake, DurationSeconds=7200)) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        400,
    )


def test_role_chaining_works_and_is_limited_to_one_hour(fake):
    analytics = "arn:aws:iam::444444444444:role/ReservationExporter"
    fake.add_role(ROLE, trusted_account_ids=[OWN_ACCOUNT])
    fake.add_role(analytics, trusted_account_ids=[PROD], max_session_seconds=43200)
    sts_as_prod = session_client(fake, assume(fake)["Credentials"], "sts")

    chained = sts_as_prod.assume_role(RoleArn=analytics, RoleSessionName="chained")
    assert chained["AssumedRoleUser"]["Arn"].startswith("arn:aws:sts::444444444444:")
    assert error_of(
        lambda: sts_as_prod.assume_role(
            RoleArn=analytics, RoleSessionName="chained", DurationSeconds=7200
        )
    ) == (
        "ValidationError",
        "The requested DurationSeconds exceeds the 1 hour session limit for roles assumed "
        "by role chaining.",
        400,
    )
    # Without the chain the same role is not trusted from the own account.
    assert error_of(lambda: assume(fake, analytics))[0] == "AccessDenied"


def test_role_requiring_mfa_needs_the_devices_current_code(fake):
    fake.add_mfa_device(MFA, "123456")
    fake.add_role(ROLE, mfa_serial=MFA)

    assert error_of(lambda: assume(fake)) == ("AccessDenied", denied_message(ROLE), 403)
    assert error_of(lambda: assume(fake, SerialNumber=MFA, TokenCode="654321")) == (
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
        403,
    )
    code, message, _ = error_of(
        lambda: assume(
            fake, SerialNumber=f"arn:aws:iam::{OWN_ACCOUNT}:mfa/mallory", TokenCode="123456"
        )
    )
    assert code == "AccessDenied" and "unable to validate MFA code" in message
    assert assume(fake, SerialNumber=MFA, TokenCode="123456")["Credentials"]["AccessKeyId"]


def test_get_session_token_checks_mfa_and_its_keys_keep_the_callers_account(fake):
    fake.add_mfa_device(MFA, "123456")
    sts = fake.client("sts", OWN_ACCOUNT)

    assert error_of(lambda: sts.get_session_token(SerialNumber=MFA, TokenCode="000000")) == (
        "AccessDenied",
        "MultiFactorAuthentication failed with invalid MFA one time pass code.",
        403,
    )
    credentials = sts.get_session_token(SerialNumber=MFA, TokenCode="123456")["Credentials"]
    session_sts = session_client(fake, credentials, "sts")
    assert session_sts.get_caller_identity()["Account"] == OWN_ACCOUNT
    assert error_of(lambda: session_sts.get_session_token()) == (
        "AccessDenied",
        "Cannot call GetSessionToken with session credentials",
        403,
    )


def test_an_mfa_session_satisfies_a_role_that_requires_mfa(fake):
    fake.add_mfa_device(MFA, "123456")
    fake.add_role(ROLE, mfa_serial=MFA)
    sts = fake.client("sts", OWN_ACCOUNT)
    plain = session_client(fake, sts.get_session_token()["Credentials"], "sts")
    with_mfa = session_client(
        fake, sts.get_session_token(SerialNumber=MFA, TokenCode="123456")["Credentials"], "sts"
    )

    assert error_of(lambda: plain.assume_role(RoleArn=ROLE, RoleSessionName="s1"))[0] == (
        "AccessDenied"
    )
    assert with_mfa.assume_role(RoleArn=ROLE, RoleSessionName="s1")["Credentials"]


def test_expired_session_keys_are_refused_per_protocol(fake):
    fake.add_role(ROLE)
    fake.set_session_limits(cap_seconds=3)
    credentials = assume(fake, DurationSeconds=900)["Credentials"]
    rds = session_client(fake, credentials, "rds")
    memorydb = session_client(fake, credentials, "memorydb")
    rds.describe_reserved_db_instances()  # valid at first

    left = (credentials["Expiration"] - datetime.now(timezone.utc)).total_seconds()
    time.sleep(max(0.0, left) + 0.2)

    assert error_of(rds.describe_reserved_db_instances) == (
        "ExpiredToken",
        "The security token included in the request is expired",
        400,
    )
    assert error_of(memorydb.describe_reserved_nodes)[::2] == ("ExpiredTokenException", 403)
    assert [c.outcome for c in fake.calls(account_id=PROD)] == ["ok", "denied", "denied"]


def test_session_cap_shortens_the_expiration_clients_see(fake):
    fake.add_role(ROLE)
    fake.set_session_limits(cap_seconds=60)
    before = datetime.now(timezone.utc)

    expiration = assume(fake, DurationSeconds=3600)["Credentials"]["Expiration"]

    assert (expiration - before).total_seconds() <= 65
