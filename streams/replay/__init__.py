"""Replay, backfill and archive: re-run history through the current code, safely."""
