"""Run `wirewatch` commands in-process, as a user types them: (exit code, stdout, stderr)."""

from __future__ import annotations

from collections.abc import Callable

from click.testing import CliRunner

from wirewatch.cli import main

Run = Callable[..., tuple[int, str, str]]


def cli() -> Run:
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
        result = runner.invoke(main, list(args), input=input)
        return result.exit_code, result.stdout, result.stderr

    return invoke
