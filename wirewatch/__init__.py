"""wirewatch: a streaming news pipeline that sends one alert per story, however many sites
republish it.

The stages live in `wirewatch.connectors` (feeds to Kafka), `wirewatch.streams` (normalise,
dedupe into stories, tag) and `wirewatch.alerts` (subscriptions and delivery); the command
line in `wirewatch.cli`.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

try:
    __version__ = _version("wirewatch")
except PackageNotFoundError:  # a source tree on sys.path that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
