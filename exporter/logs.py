"""Logging set-up: text or JSON lines on stderr, one line per record.

Messages carry AWS-controlled text (Organizations account names, reservation
ids, error messages): both formatters escape control characters so such a
value can neither forge a log line nor act on a terminal (exporter.terminal).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone

from exporter.terminal import json_safe, printable

LEVELS = ("debug", "info", "warning", "error")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "ts": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        # json.dumps escapes C0; json_safe the C1 controls, U+2028/U+2029 and bidi.
        return json_safe(json.dumps(entry, ensure_ascii=False))


class TextFormatter(logging.Formatter):
    """``ts LEVEL logger: message`` with every control character of the whole
    formatted record (message, arguments, traceback) escaped: one record, one line."""

    def format(self, record: logging.LogRecord) -> str:
        return printable(super().format(record))


TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(level: str = "info", fmt: str = "text") -> None:
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(TextFormatter(TEXT_FORMAT))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # botocore at debug level logs request headers and bodies, including
    # signatures and STS responses with session tokens: keep it quiet always.
    for noisy in ("botocore", "boto3", "urllib3", "s3transfer"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # It logs a traceback per failed refresh; the refresher logs one line instead.
    logging.getLogger("botocore.credentials").setLevel(logging.ERROR)
