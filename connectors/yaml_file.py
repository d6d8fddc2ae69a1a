"""Read a YAML file a user wrote: any read, encoding or syntax problem becomes one clear error.

Shared by every file wirewatch reads (feeds, channels, subscriptions, taxonomy and
watchlist), so each says the same things the same way and none lets a traceback through.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml


def read_yaml(path: Path, error: Callable[[str], Exception], what: str = "") -> Any:
    """The parsed document; `error(message)` is raised for a file that cannot be used.

    `what` names the file in messages ("feeds file"); empty, the path alone does.
    """
    label = f"{what} {path}" if what else str(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise error(f"cannot read {label}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"cannot read {label}: not UTF-8 ({exc})") from exc
    except yaml.YAMLError as exc:
        raise error(f"{label} is not valid YAML: {exc}") from exc
