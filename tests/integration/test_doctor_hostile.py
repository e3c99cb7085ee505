"""`doctor` facing a truncated STS answer: the role's failure is reported as
unreadable, and no credential from the cut body reaches its output (issue 14)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
import yaml

from exporter.commands import doctor
from exporter.fake import FakeAws
from tests.support import OWN_ACCOUNT, assert_no_issued_secret

PROD = "222222222222"
ROLE = f"arn:aws:iam::{PROD}:role/ReservationExporter"
LEAKS = re.compile(r"ASIA[A-Z0-9]{16}|SecretAccessKey|SessionToken|[A-Za-z0-9/+]{40,}")


@pytest.mark.parametrize("kind", ["truncate", "garbage", "short"])
def test_doctor_says_the_answer_was_unreadable_and_shows_no_credential(
    isolated_fake: FakeAws, tmp_path: Path, kind: str
) -> None:
    isolated_fake.add_role(ROLE, trusted_account_ids=[OWN_ACCOUNT])
    isolated_fake.corrupt(kind, "sts", "AssumeRole")
    path = tmp_path / "config.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "regions": ["us-east-1"],
                "services": ["ec2"],
                "accounts": [{"name": "payer"}, {"name": "production", "role_arn": ROLE}],
            }
        )
    )
    out, err = io.StringIO(), io.StringIO()
    code = doctor.main(
        ["--config.file", str(path), "--log.level", "debug", "--format", "table"],
        stdout=out,
        stderr=err,
    )
    text = out.getvalue() + err.getvalue()
    assert code == 1, text
    assert "production" in text
    assert "could not be parsed" in text or "Content-Length" in text
    assert not LEAKS.search(text), LEAKS.search(text)
    assert_no_issued_secret(text)
