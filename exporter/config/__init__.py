"""The configuration file: YAML -> a typed, validated, frozen ``Config`` (DESIGN §3).

Every problem in a file is reported at once, each as ``path: message`` in the
user's terms (``accounts[2].role_arn: not a valid IAM role ARN ...``), never in
pydantic's. Use ``load_config`` for files and ``parse_config`` for data already
loaded; both raise ``ConfigError``. Building ``Config`` directly skips the
checks that span several accounts, so other code should not.

The package, imports running down this list only:

- ``errors``: ``ConfigError``, ``Problem``, path formatting, rendering, escaping;
- ``durations``: ``parse_duration`` / ``format_duration``;
- ``reading``: the strict YAML reader (also used by ``exporter.webconfig``);
- ``fields``: validators and the annotated types of single values;
- ``model``: the pydantic models, and pydantic's errors in the user's terms;
- ``checks``: rules spanning fields and accounts, and the credential scan;
- ``loading``: ``load_config`` / ``parse_config``, and warnings (logger ``exporter.config``).
"""

from __future__ import annotations

from exporter.config.durations import format_duration, parse_duration
from exporter.config.errors import ConfigError, format_path
from exporter.config.fields import ALL_REGIONS, PARTITIONS
from exporter.config.loading import MAX_CONFIG_BYTES, load_config, parse_config
from exporter.config.model import (
    AccountConfig,
    Config,
    CostExplorer,
    Defaults,
    Organizations,
    Renewal,
)
from exporter.config.reading import MAX_ALIAS_VALUES, MAX_DEPTH, MAX_VALUES

__all__ = [
    "ALL_REGIONS",
    "MAX_ALIAS_VALUES",
    "MAX_CONFIG_BYTES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "PARTITIONS",
    "AccountConfig",
    "Config",
    "ConfigError",
    "CostExplorer",
    "Defaults",
    "Organizations",
    "Renewal",
    "format_duration",
    "format_path",
    "load_config",
    "parse_config",
    "parse_duration",
]
