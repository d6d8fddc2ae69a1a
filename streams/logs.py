"""Log lines that say what failed: the `extra=` fields of every call, as text or JSON."""

from __future__ import annotations

import logging
import sys
from typing import Literal

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter

LogFormat = Literal["text", "json"]
LINE_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"  # text and JSON alike
_STANDARD = frozenset(RESERVED_ATTRS) | {"message", "asctime", "taskName"}


def extra_fields(record: logging.LogRecord) -> dict[str, object]:
    """What the call passed as `extra=`: every attribute a plain LogRecord does not have."""
    return {key: value for key, value in record.__dict__.items()
            if key not in _STANDARD and not key.startswith("_")}


def _logfmt(value: object) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\n\t'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


class TextFormatter(logging.Formatter):
    """`time LEVEL logger message key=value ...`: the extras appended, logfmt-quoted."""

    def __init__(self) -> None:
        super().__init__(LINE_FORMAT)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        extras = extra_fields(record)
        if not extras:
            return line
        head, newline, trace = line.partition("\n")  # keep a traceback below the fields
        fields = " ".join(f"{key}={_logfmt(value)}" for key, value in extras.items())
        return f"{head} {fields}{newline}{trace}"


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message, the extras, any traceback."""
    return JsonFormatter(LINE_FORMAT,
                         rename_fields={"asctime": "time", "levelname": "level",
                                        "name": "logger"},
                         json_default=str, json_ensure_ascii=False)


def configure_logging(level: str = "WARNING", log_format: LogFormat = "text") -> None:
    """Route every logger (wirewatch's, Faust's, aiokafka's) to stderr in one format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(json_formatter() if log_format == "json" else TextFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
