"""exporter.aws.credentials: the one AssumeRole builder both configured roles
and named profiles use — deferred first call, the parameters it sends, expiry
handling, renewal windows and the one-hour cap on chained sessions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from botocore.exceptions import ClientError

from exporter.aws.credentials import (
    CHAINED_SESSION_MAX,
    assume_role_credentials,
    deferred_credentials,
    refresh_windows,
    sts_metadata,
)
from exporter.aws.errors import MalformedResponse, describe_error, failure_reason

ROLE = "arn:aws:iam::111111111111:role/ReservationExporter"
T0 = datetime(2030, 1, 1, tzinfo=timezone.utc)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class FakeSts:
    """An STS that hands out numbered keys valid for the requested duration."""

    def __init__(self, clock: Clock, *, naive: bool = False, as_text: bool = False) -> None:
        self.clock = clock
        self.naive = naive
        self.as_text = as_text
        self.calls: list[dict[str, Any]] = []
        self.regions: list[str] = []
        self.open_blocks = 0
        self.fail_with: BaseException | None = None
        self.answer: Any = None

    @contextmanager
    def __call__(self, region: str) -> Iterator[FakeSts]:
        self.regions.append(region)
        self.open_blocks += 1
        try:
            yield self
        finally:
            self.open_blocks -= 1

    def assume_role(self, **params: Any) -> Any:
        self.calls.append(params)
        if self.fail_with is not None:
            raise self.fail_with
        if self.answer is not None:
            return self.answer
        expiry: Any = self.clock() + timedelta(seconds=params["DurationSeconds"])
        if self.naive:
            expiry = expiry.replace(tzinfo=None)
        if self.as_text:
            expiry = expiry.isoformat()
        n = len(self.calls)
        return {
            "Credentials": {
                "AccessKeyId": f"ASIAKEY{n}",
                "SecretAccessKey": f"secret{n}",
                "SessionToken": f"token{n}",
                "Expiration": expiry,
            }
        }


def build(sts: FakeSts, clock: Clock, **overrides: Any) -> Any:
    options: dict[str, Any] = {
        "sts": sts,
        "role_arn": ROLE,
        "session_name": "aws-reservation-exporter",
        "duration": 3600,
        "time_fetcher": clock,
    }
    options.update(overrides)
    return assume_role_credentials(**options)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def sts(clock: Clock) -> FakeSts:
    return FakeSts(clock)


# -- refresh windows -------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "windows"),
    [
        (900, (300, 225)),  # AWS's shortest session: a third and a quarter of it
        (3600, (900, 600)),  # botocore's own 15 and 10 minutes
        (12 * 3600, (900, 600)),
    ],
)
def test_refresh_windows_scale_down_for_short_sessions(
    duration: int, windows: tuple[int, int]
) -> None:
    assert refresh_windows(duration) == windows


# -- the first call ----------------------------------------------------------------


def test_nothing_is_assumed_before_first_use(sts: FakeSts, clock: Clock) -> None:
    credentials = build(sts, clock)
    assert sts.calls == []
    assert credentials.method == "assume-role"

    frozen = credentials.get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("ASIAKEY1", "secret1", "token1")
    credentials.get_frozen_credentials()
    assert len(sts.calls) == 1
    assert sts.open_blocks == 0  # the STS client's block is closed after the call


def test_a_refused_role_fails_its_first_use_and_is_tried_again_on_the_next(
    sts: FakeSts, clock: Clock
) -> None:
    sts.fail_with = ClientError(
        {"Error": {"Code": "AccessDenied", "Message": "not trusted"}}, "AssumeRole"
    )
    credentials = build(sts, clock)
    with pytest.raises(ClientError):
        credentials.get_frozen_credentials()
    sts.fail_with = None
    assert credentials.get_frozen_credentials().access_key == "ASIAKEY2"


# -- what is sent ------------------------------------------------------------------


def test_role_session_name_and_duration_are_sent(sts: FakeSts, clock: Clock) -> None:
    build(sts, clock, session_name="reader", duration=1800).get_frozen_credentials()
    assert sts.calls == [{"RoleArn": ROLE, "RoleSessionName": "reader", "DurationSeconds": 1800}]


def test_external_id_is_sent_when_set(sts: FakeSts, clock: Clock) -> None:
    build(sts, clock, external_id="f2c1-secret-ish").get_frozen_credentials()
    assert sts.calls[0]["ExternalId"] == "f2c1-secret-ish"


@pytest.mark.parametrize("external_id", [None, ""])
def test_no_external_id_is_sent_when_unset(
    sts: FakeSts, clock: Clock, external_id: str | None
) -> None:
    build(sts, clock, external_id=external_id).get_frozen_credentials()
    assert "ExternalId" not in sts.calls[0]


@pytest.mark.parametrize(
    ("role_arn", "region"),
    [
        (ROLE, "us-east-1"),
        ("arn:aws-cn:iam::111111111111:role/R", "cn-northwest-1"),
        ("arn:aws-us-gov:iam::111111111111:role/R", "us-gov-west-1"),
    ],
)
def test_sts_is_called_in_the_home_region_of_the_roles_partition(
    sts: FakeSts, clock: Clock, role_arn: str, region: str
) -> None:
    build(sts, clock, role_arn=role_arn).get_frozen_credentials()
    assert sts.regions == [region]


def test_an_mfa_code_is_asked_for_each_time_the_role_is_assumed(sts: FakeSts, clock: Clock) -> None:
    codes = iter(["111111", "222222"])
    serial = "arn:aws:iam::100000000000:mfa/alice"
    credentials = build(sts, clock, mfa_serial=serial, token_code=lambda: next(codes))
    assert sts.calls == []  # nobody is asked before first use
    credentials.get_frozen_credentials()
    clock.advance(3600)
    credentials.get_frozen_credentials()
    assert [(c["SerialNumber"], c["TokenCode"]) for c in sts.calls] == [
        (serial, "111111"),
        (serial, "222222"),
    ]


def test_an_mfa_serial_without_a_way_to_ask_is_refused_up_front(sts: FakeSts, clock: Clock) -> None:
    with pytest.raises(ValueError, match="MFA"):
        build(sts, clock, mfa_serial="arn:aws:iam::100000000000:mfa/alice")


# -- chained sessions --------------------------------------------------------------


@pytest.mark.parametrize(
    ("duration", "chained", "sent"),
    [
        (4 * 3600, True, CHAINED_SESSION_MAX),
        (1800, True, 1800),
        (4 * 3600, False, 4 * 3600),
    ],
)
def test_a_chained_session_is_capped_at_one_hour(
    sts: FakeSts, clock: Clock, duration: int, chained: bool, sent: int
) -> None:
    build(sts, clock, duration=duration, chained=chained).get_frozen_credentials()
    assert sts.calls[0]["DurationSeconds"] == sent


def test_a_capped_session_renews_on_the_windows_of_its_real_length(
    sts: FakeSts, clock: Clock
) -> None:
    credentials = build(sts, clock, duration=4 * 3600, chained=True)
    credentials.get_frozen_credentials()
    clock.advance(3600 - 900 + 1)  # inside the advisory window of a 1 h session
    credentials.get_frozen_credentials()
    assert len(sts.calls) == 2


# -- expiry and renewal ------------------------------------------------------------


def test_credentials_are_renewed_inside_the_advisory_window_only(
    sts: FakeSts, clock: Clock
) -> None:
    credentials = build(sts, clock, duration=900)  # windows 300 s and 225 s
    credentials.get_frozen_credentials()
    clock.advance(900 - 300 - 1)
    assert credentials.get_frozen_credentials().access_key == "ASIAKEY1"
    clock.advance(2)
    assert credentials.get_frozen_credentials().access_key == "ASIAKEY2"
    assert len(sts.calls) == 2


@pytest.mark.parametrize(("naive", "as_text"), [(True, False), (False, True), (False, False)])
def test_an_expiry_without_a_zone_or_as_text_is_read_as_utc(
    clock: Clock, naive: bool, as_text: bool
) -> None:
    sts = FakeSts(clock, naive=naive, as_text=as_text)
    credentials = build(sts, clock)
    credentials.get_frozen_credentials()
    clock.advance(3600 - 900 - 1)  # not yet due: the expiry was not read as local time
    credentials.get_frozen_credentials()
    assert len(sts.calls) == 1
    clock.advance(2)
    credentials.get_frozen_credentials()
    assert len(sts.calls) == 2


def test_sts_metadata_normalises_the_expiry_to_utc_text() -> None:
    metadata = sts_metadata(
        "AssumeRole",
        {
            "Credentials": {
                "AccessKeyId": "ASIAKEY",
                "SecretAccessKey": "s",
                "SessionToken": "t",
                "Expiration": datetime(2030, 1, 1, 12, 0),
            }
        },
    )
    assert metadata == {
        "access_key": "ASIAKEY",
        "secret_key": "s",
        "token": "t",
        "expiry_time": "2030-01-01T12:00:00+00:00",
    }


@pytest.mark.parametrize(
    "answer",
    [
        {},
        {"Credentials": None},
        {"Credentials": {"AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": "wJalr"}},
        "not a mapping",
    ],
)
def test_an_answer_without_complete_credentials_is_malformed_and_not_quoted(
    sts: FakeSts, clock: Clock, answer: Any
) -> None:
    sts.answer = answer
    with pytest.raises(MalformedResponse) as caught:
        build(sts, clock).get_frozen_credentials()
    assert failure_reason(caught.value) == "malformed"
    text = describe_error(caught.value)
    assert "AssumeRole" in text
    assert "ASIAIOSFODNN7EXAMPLE" not in text and "wJalr" not in text


def test_deferred_credentials_fetch_on_first_use_with_the_given_method(clock: Clock) -> None:
    fetched: list[int] = []

    def fetch() -> dict[str, str]:
        fetched.append(1)
        return {
            "access_key": "ASIAKEY",
            "secret_key": "s",
            "token": "t",
            "expiry_time": (clock() + timedelta(hours=12)).isoformat(),
        }

    credentials = deferred_credentials(
        fetch, method="mfa-session-token", duration=12 * 3600, time_fetcher=clock
    )
    assert fetched == []
    assert credentials.method == "mfa-session-token"
    assert credentials.get_frozen_credentials().access_key == "ASIAKEY"
    clock.advance(11 * 3600)
    credentials.get_frozen_credentials()
    assert fetched == [1]
