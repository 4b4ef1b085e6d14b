"""Python logging for `scimflask serve`: one `dictConfig`, used by the command and by gunicorn.

Everything goes to stdout, one line per record: the server's own lines (gunicorn's or
werkzeug's), `scimflask` warnings and errors, the access lines (`scimflask.access`) and the
audit lines (`scimflask.audit`). `text` lines are for people, `json` lines for log shippers.
`quiet` keeps warnings, errors and the audit lines (the record of what identity providers
changed) and drops access and informational lines.
"""

from __future__ import annotations

import json
import logging
import logging.config
from datetime import datetime, timezone
from typing import Any

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s [%(process)d] %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record. A record's `fields` dict (`extra={"fields": …}`, as the
    access and audit lines pass) becomes the object's keys instead of the message."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname, "logger": record.name, "pid": record.process,
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        else:
            line["message"] = record.getMessage()
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, separators=(",", ":"))


def logging_config(log_format: str = "text", quiet: bool = False) -> dict[str, Any]:
    """The `logging.config.dictConfig` schema of a serving process."""
    if log_format not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, not {log_format!r}")
    chatty = "WARNING" if quiet else "INFO"
    formatter = ({"()": f"{__name__}.JsonFormatter"} if log_format == "json"
                 else {"format": TEXT_FORMAT, "datefmt": "%Y-%m-%dT%H:%M:%S%z"})
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"scimflask": formatter},
        "handlers": {"stdout": {"class": "logging.StreamHandler", "formatter": "scimflask",
                                "stream": "ext://sys.stdout"}},
        "root": {"level": "WARNING", "handlers": ["stdout"]},
        "loggers": {
            "scimflask": {"level": chatty},
            "scimflask.access": {"level": chatty},
            "scimflask.audit": {"level": "INFO"},
            # The servers' own lines (startup, workers, errors); their access logs are off.
            "gunicorn.error": {"level": chatty, "handlers": [], "propagate": True},
            "gunicorn.access": {"level": "CRITICAL", "handlers": [], "propagate": False},
            "werkzeug": {"level": chatty},
        },
    }


def configure_logging(log_format: str = "text", quiet: bool = False) -> None:
    logging.config.dictConfig(logging_config(log_format, quiet))
