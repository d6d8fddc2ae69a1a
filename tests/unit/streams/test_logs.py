"""Log lines carry their `extra=` fields: appended as key=value in text, fields in JSON."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from wirewatch.streams.logs import TextFormatter, json_formatter

from tests.support.processes import wirewatch_env


def record(message: str, exc_info: object = None, **extra: object) -> logging.LogRecord:
    made = logging.getLogger("wirewatch.test").makeRecord(
        "wirewatch.test", logging.WARNING, __file__, 1, message, (), exc_info)  # type: ignore[arg-type]
    made.__dict__.update(extra)
    return made


def test_text_lines_append_the_extras_quoted_where_needed() -> None:
    line = TextFormatter().format(record("feed poll failed", feed_url="https://a.example/rss",
                                         error='timed out after 20 s "read"', status=None))
    assert line.endswith(' WARNING wirewatch.test feed poll failed '
                         'feed_url=https://a.example/rss error="timed out after 20 s \\"read\\"" '
                         'status=None')


def test_text_lines_keep_a_traceback_below_the_fields() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        line = TextFormatter().format(record("crashed", sys.exc_info(), feed_url="u"))
    first, *rest = line.splitlines()
    assert first.endswith("crashed feed_url=u")
    assert rest[0] == "Traceback (most recent call last):" and rest[-1] == "ValueError: boom"


def test_a_line_without_extras_is_the_plain_format() -> None:
    assert TextFormatter().format(record("started")).endswith(" WARNING wirewatch.test started")


def test_json_lines_hold_the_standard_and_extra_fields() -> None:
    entry = json.loads(json_formatter().format(record("dead-lettered", stage="deliver",
                                                      error="HTTP 500")))
    assert {key: entry[key] for key in ("level", "logger", "message", "stage", "error")} == {
        "level": "WARNING", "logger": "wirewatch.test", "message": "dead-lettered",
        "stage": "deliver", "error": "HTTP 500"}
    assert entry["time"]


def test_the_setting_reaches_a_command_and_a_bad_value_is_refused() -> None:
    code = ("import logging, wirewatch.cli.common as c; c.load_settings(); "
            "logging.getLogger('wirewatch.x').warning('hello', extra={'feed_url': 'u'})")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           env=wirewatch_env(WIREWATCH_LOG_FORMAT="json"), timeout=60)
    assert shown.stdout == ""  # logs go to stderr: stdout is for alerts and data
    entry = json.loads(shown.stderr.strip().splitlines()[-1])
    assert (entry["message"], entry["feed_url"]) == ("hello", "u")
    refused = subprocess.run([sys.executable, "-m", "wirewatch", "config"],
                             capture_output=True, text=True,
                             env=wirewatch_env(WIREWATCH_LOG_FORMAT="xml"), timeout=60)
    assert refused.returncode == 1 and "log_format" in refused.stderr
