"""The list commands' shared output: tables with headers and right-aligned numbers, colour
on a terminal only, JSON lines and YAML with the same raw fields."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from tests.support.processes import wirewatch_env
from wirewatch.cli import main
from wirewatch.cli.output import Column, Output, output_options, render, table, wants_color

ROWS = [{"id": "a", "url": "https://example.com/" + "long-path/" * 20, "items": 3,
         "last": None},
        {"id": "b\x1b[31m", "url": "https://b.example/", "items": 12345, "last": "x"}]
COLUMNS = [Column("id", "id"), Column("url", "url"), Column("items", "items", numeric=True),
           Column("last", "last", style=lambda v: "red" if v else "")]



@click.command()
@output_options()
def _rows_command(out: Output) -> None:
    out.rows([], COLUMNS, empty="nothing here")


@pytest.mark.parametrize(("tty", "no_color", "environ", "expected"), [
    (True, False, {}, True),
    (False, False, {}, False),
    (True, True, {}, False),
    (True, False, {"NO_COLOR": "1"}, False),
    (True, False, {"NO_COLOR": ""}, True),  # no-color.org: only a non-empty value counts
], ids=["terminal", "piped", "flag", "env", "empty-env"])
def test_colour_only_on_a_terminal_without_no_color(tty: bool, no_color: bool,
                                                    environ: dict[str, str],
                                                    expected: bool) -> None:
    assert wants_color(no_color, tty=tty, environ=environ) is expected


def test_a_table_has_headers_right_aligned_numbers_and_one_line_per_row() -> None:
    lines = render(table(ROWS, COLUMNS), color=False).splitlines()
    header, rule, first, second = lines
    assert header.split() == ["id", "url", "items", "last"] and set(rule) == {"─"}
    assert ROWS[0]["url"] in first  # a long URL is not wrapped when piped
    # Numbers end where their header ends; a missing value reads "-".
    end = header.index("items") + len("items")
    assert first[:end].endswith(" 3") and second[:end].endswith("12345")
    assert first.split()[-1] == "-"
    assert "\x1b" not in "\n".join(lines) and second.startswith("b [31m")  # no escape kept
    assert all(line == line.rstrip() for line in lines)


def test_colour_is_written_only_when_allowed() -> None:
    assert "\x1b[" in render(table(ROWS, COLUMNS), color=True, width=200)
    assert "\x1b[" not in render(table(ROWS, COLUMNS), color=False)


@pytest.mark.parametrize("form", ["json", "yaml"])
def test_json_and_yaml_carry_every_raw_field(form: str, capsys: pytest.CaptureFixture[str],
                                             ) -> None:
    Output(form).rows(ROWS, COLUMNS)
    out = capsys.readouterr().out
    parsed = ([json.loads(line) for line in out.splitlines()] if form == "json"
              else yaml.safe_load(out))
    assert parsed == ROWS


def test_an_empty_listing() -> None:
    runner = CliRunner()
    for form, expected in (("json", ""), ("yaml", "[]\n")):
        # An empty YAML list is still YAML; empty JSON lines are nothing at all.
        result = runner.invoke(_rows_command, ["-o", form])
        assert result.exit_code == 0 and result.output == expected, result.output
    assert runner.invoke(_rows_command, []).output == "nothing here\n"


@pytest.fixture
def data_dir(tmp_path: Path) -> dict[str, str]:
    return {"WIREWATCH_DATA_DIR": str(tmp_path / "data")}


def test_list_commands_take_o_and_json_as_its_alias(data_dir: dict[str, str]) -> None:
    runner = CliRunner()
    as_json = runner.invoke(main, ["watchlist", "list", "--json"], env=data_dir)
    with_o = runner.invoke(main, ["watchlist", "list", "-o", "json"], env=data_dir)
    as_yaml = runner.invoke(main, ["watchlist", "list", "-o", "yaml"], env=data_dir)
    assert as_json.exit_code == with_o.exit_code == as_yaml.exit_code == 0
    assert as_json.output == with_o.output
    assert [json.loads(line) for line in as_json.output.splitlines()] == yaml.safe_load(
        as_yaml.output)
    listed = runner.invoke(main, ["watchlist", "list"], env=data_dir).output
    assert listed.splitlines()[0].split()[:3] == ["id", "name", "type"]
    assert "openai" in listed and "\x1b" not in listed
    both = runner.invoke(main, ["watchlist", "list", "--json", "-o", "yaml"], env=data_dir)
    assert both.exit_code == 2 and "--json is -o json" in both.output


def _on_a_terminal(*args: str, env: dict[str, str]) -> str:
    """What `wirewatch ARGS` writes when its standard output is a terminal."""
    leader, follower = pty.openpty()
    process = subprocess.Popen([sys.executable, "-m", "wirewatch", *args], stdout=follower,
                               stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                               env=wirewatch_env(COLUMNS="200", **env))
    os.close(follower)
    chunks = []
    deadline = time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 1.0)
            if not ready:
                continue
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=30) == 0
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    return b"".join(chunks).decode()


def test_colour_on_a_terminal_and_none_with_no_color(data_dir: dict[str, str]) -> None:
    assert "\x1b[" in _on_a_terminal("watchlist", "list", env=data_dir)
    assert "\x1b[" not in _on_a_terminal("watchlist", "list", "--no-color", env=data_dir)
    plain = _on_a_terminal("watchlist", "list", env={**data_dir, "NO_COLOR": "1"})
    assert "\x1b[" not in plain and "openai" in plain
