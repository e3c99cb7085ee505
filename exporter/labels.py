"""The label names the exporter's series carry, in one place.

``owner_labels`` (configured label names for tag values) must not collide with
any of these: the config refuses such a name with its path.
"""

from __future__ import annotations

import re

IDENTITY_LABELS = ("account", "account_id", "region", "service", "reservation_id")
TARGET_LABELS = ("account", "account_id", "region", "service")
INFO_LABELS = (
    "state",
    "instance_type",
    "product",
    "offering_type",
    "scope",
    "availability_zone",
    "multi_az",
    "plan_type",
    "source",  # describe | cost_explorer | both
)
# aws_reservation_account_info, before the owner labels.
ACCOUNT_INFO_LABELS = ("account", "account_id", "payer_account_id", "ou_path")

# Every other label the exporter, Prometheus or the shipped rules put on a series.
_OTHER_LABELS = (
    "currency",
    "reason",
    "source",
    "outcome",
    "operation",
    "version",
    "python_version",
    "job",  # target labels Prometheus adds at scrape time
    "instance",
    "alertname",  # labels of the shipped alerts
    "severity",
    "tier",
)
RESERVED_LABELS = frozenset(
    (*IDENTITY_LABELS, *TARGET_LABELS, *INFO_LABELS, *ACCOUNT_INFO_LABELS, *_OTHER_LABELS)
)
LABEL_NAME_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*", re.ASCII)
