"""Logging set-up for the server processes: JSON or text lines, each with the request id."""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import IO

from pythonjsonlogger.json import JsonFormatter

from app.settings import Settings

REQUEST_ID: ContextVar[str | None] = ContextVar("pairwise_request_id", default=None)
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
JSON_FIELDS = ["levelname", "name", "message", "request_id"]
_HANDLER_NAME = "pairwise"


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being handled (or `-`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get() or "-"
        return True


def make_formatter(fmt: str) -> logging.Formatter:
    if fmt == "json":
        return JsonFormatter(
            JSON_FIELDS,
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",  # ISO 8601 in UTC
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings, stream: IO[str] | None = None) -> logging.Handler:
    """Route all logging to one stream handler in LOG_FORMAT; safe to call again."""
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.set_name(_HANDLER_NAME)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(make_formatter(settings.log_format))
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    return handler
