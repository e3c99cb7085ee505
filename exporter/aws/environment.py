"""The one list of environment settings that could send boto3 to real AWS, or
make it pick credentials other than the ones a fake hands out.

The demo and the fake AWS (its ``env()`` for clients, subprocesses and the
tests) clear these before pointing a process at the fake. The bottom of
``exporter.aws``: no imports from the rest of the package.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

# Every name is one botocore reads (its session variables or its credential
# providers); each could redirect requests or credentials.
AWS_SETTINGS_TO_CLEAR = frozenset(
    {
        # a named profile from the shared files (its keys, role, region, endpoints)
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        # would make boto3 ignore AWS_ENDPOINT_URL, the fake's address
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
        # someone else's temporary credentials (SECURITY_TOKEN is the legacy name)
        "AWS_SESSION_TOKEN",
        "AWS_SECURITY_TOKEN",
        # web identity (IRSA): an AssumeRoleWithWebIdentity against real STS
        "AWS_ROLE_ARN",
        "AWS_ROLE_SESSION_NAME",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        # the ECS/EKS container credentials endpoint
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN",
        "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
        # FIPS and dual-stack variants of AWS's own hostnames
        "AWS_USE_FIPS_ENDPOINT",
        "AWS_USE_DUALSTACK_ENDPOINT",
    }
)
# Per-service endpoints (AWS_ENDPOINT_URL_RDS=...) win over AWS_ENDPOINT_URL.
AWS_SETTING_PREFIXES_TO_CLEAR = ("AWS_ENDPOINT_URL_",)


def is_cleared(name: str) -> bool:
    """Whether ``name`` is one of the settings to clear."""
    return name in AWS_SETTINGS_TO_CLEAR or name.startswith(AWS_SETTING_PREFIXES_TO_CLEAR)


def isolate_from_real_aws(environ: MutableMapping[str, str] | None = None) -> None:
    """Drop every setting that could send a request to real AWS (or break the fake)
    from ``environ`` (default: ``os.environ``), in place; the shared config and
    credentials files become the null device and the instance metadata service
    is off, so neither a developer's ~/.aws nor the host's role can leak in."""
    env = os.environ if environ is None else environ
    for key in [k for k in env if is_cleared(k)]:
        del env[key]
    env["AWS_CONFIG_FILE"] = os.devnull
    env["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    env["AWS_EC2_METADATA_DISABLED"] = "true"
