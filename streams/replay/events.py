"""Events for a replay: read the live event index, write a scratch one.

A story live processing already placed keeps its event (so per-event alert ids are the live
ones and the ledger recognises them); a story it never saw is compared with both indexes'
stories. The live index is never written, so a replay leaves no trace on it.
"""

from __future__ import annotations

from collections.abc import Sequence

from wirewatch.streams.events.engine import EventIndex, Looked, PendingEvent, Query


class LayeredEventIndex:
    def __init__(self, live: EventIndex, scratch: EventIndex) -> None:
        self.live, self.scratch = live, scratch

    async def lookup_many(self, queries: Sequence[Query]) -> list[Looked]:
        mine = await self.scratch.lookup_many(queries)
        theirs = await self.live.lookup_many(queries)
        merged = []
        for here, live in zip(mine, theirs, strict=True):
            pool = {c.story_id: c for c in (*live.candidates, *here.candidates)}
            merged.append(Looked(live.known or here.known, list(pool.values()),
                                 live.observed | here.observed))
        return merged

    async def add_many(self, pending: Sequence[PendingEvent], *, force: bool = False,
                       ) -> list[bool]:
        # A story the live index holds is looked up as known and never reaches here; the
        # race check runs against the scratch index, which only this replay writes.
        return await self.scratch.add_many(pending, force=force)
