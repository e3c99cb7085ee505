"""The one list of AWS settings the demo and the fake clear (exporter.aws.environment)."""

from __future__ import annotations

import inspect
import os

import botocore.configprovider
import botocore.credentials
import pytest

from exporter.aws.environment import (
    AWS_SETTING_PREFIXES_TO_CLEAR,
    AWS_SETTINGS_TO_CLEAR,
    is_cleared,
    isolate_from_real_aws,
)


def _botocore_session_variables() -> set[str]:
    names: set[str] = set()
    for _, env, *_ in botocore.configprovider.BOTOCORE_DEFAUT_SESSION_VARIABLES.values():
        names.update([env] if isinstance(env, str) else env or ())
    return names


@pytest.mark.parametrize("name", sorted(AWS_SETTINGS_TO_CLEAR))
def test_every_name_is_a_setting_botocore_reads(name: str) -> None:
    # A session variable, or a credential provider's (env, web identity, container).
    source = inspect.getsource(botocore.credentials)
    known = name in _botocore_session_variables() or f"'{name}'" in source or f'"{name}"' in source
    assert known, f"{name} is not read by botocore {botocore.__version__}"


def test_the_list_is_the_union_the_demo_and_the_fake_used_to_keep() -> None:
    assert set(AWS_SETTINGS_TO_CLEAR) == {
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
    }
    assert AWS_SETTING_PREFIXES_TO_CLEAR == ("AWS_ENDPOINT_URL_",)


def test_per_service_endpoints_are_cleared_but_not_the_fakes_own() -> None:
    assert is_cleared("AWS_ENDPOINT_URL_RDS")
    assert is_cleared("AWS_ENDPOINT_URL_SAVINGSPLANS")
    assert not is_cleared("AWS_ENDPOINT_URL")
    assert not is_cleared("AWS_REGION")


def test_isolating_a_mapping_leaves_the_process_environment_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_PROFILE", "real-production")
    environ = {
        **dict.fromkeys(AWS_SETTINGS_TO_CLEAR, "x"),
        "AWS_ENDPOINT_URL_EC2": "https://ec2.eu-west-1.amazonaws.com",
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": "/home/someone/.aws/config",
        "HOME": "/home/someone",
    }
    isolate_from_real_aws(environ)
    assert environ == {
        "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
        "AWS_REGION": "eu-west-1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "HOME": "/home/someone",
    }
    assert os.environ["AWS_PROFILE"] == "real-production"


def test_without_a_mapping_it_isolates_the_process(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in [k for k in os.environ if is_cleared(k)]:
        monkeypatch.delenv(key)  # so that the teardown puts them back
    monkeypatch.setenv("AWS_SESSION_TOKEN", "token-of-someone-else")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", "https://sts.amazonaws.com")
    for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_EC2_METADATA_DISABLED"):
        monkeypatch.setenv(key, "restored-by-monkeypatch")
    isolate_from_real_aws()
    assert "AWS_SESSION_TOKEN" not in os.environ
    assert "AWS_ENDPOINT_URL_STS" not in os.environ
    assert os.environ["AWS_CONFIG_FILE"] == os.devnull


def test_the_fakes_environment_drops_the_same_settings() -> None:
    pytest.importorskip("moto", reason="the fake AWS needs the demo extra")
    from exporter.fake import FakeAwsClient

    fake = FakeAwsClient("http://127.0.0.1:9")  # env() only reads its address
    base = {**dict.fromkeys(AWS_SETTINGS_TO_CLEAR, "x"), "AWS_ENDPOINT_URL_RDS": "x", "HOME": "/h"}
    env = fake.env(base=base)
    assert not [key for key in env if is_cleared(key)]
    assert env["HOME"] == "/h"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:9"
