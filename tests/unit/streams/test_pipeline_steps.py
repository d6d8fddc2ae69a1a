"""The worker's step runner: outputs flow from stage to stage; a bad record is dead-lettered
by the stage that refused it, without repeating the stages before."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import msgspec
import pytest
from wirewatch.streams.app import Batch, Step, run_batch
from wirewatch.streams.records import decode, encode


@dataclass
class Producer:
    sent: list[tuple[str, bytes | None, bytes]] = field(default_factory=list)

    async def send(self, topic: str, key: bytes | None, value: bytes,
                   *_: Any) -> asyncio.Future[None]:
        self.sent.append((topic, key, value))
        written: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        written.set_result(None)
        return written


@dataclass
class App:
    producer: Producer = field(default_factory=Producer)


@dataclass
class DeadLetters:
    letters: list[tuple[bytes | None, bytes, dict[str, str]]] = field(default_factory=list)

    async def send(self, *, key: bytes | None, value: bytes,
                   headers: list[tuple[str, bytes]]) -> None:
        self.letters.append((key, value, {k: v.decode() for k, v in headers}))


def steps(calls: list[tuple[str, list[bytes]]]) -> list[Step]:
    """upper (raw -> articles, plus a side output), then reverse (articles -> tagged,
    refusing b"BAD"), then count (tagged -> nothing)."""

    async def upper(values: list[bytes]) -> Batch:
        calls.append(("upper", values))
        return Batch([[("articles", b"k", v.upper()), ("audit", None, v)] for v in values])

    async def reverse(values: list[bytes]) -> Batch:
        calls.append(("reverse", values))
        if b"BAD" in values:
            raise ValueError("cannot reverse BAD")
        return Batch([[("tagged", b"k", v[::-1])] for v in values])

    async def count(values: list[bytes]) -> Batch:
        calls.append(("count", values))
        return Batch([[] for _ in values])

    return [Step("upper", "raw", upper), Step("reverse", "articles", reverse),
            Step("count", "tagged", count)]


async def test_outputs_flow_to_the_step_reading_their_topic() -> None:
    app, dead, calls = App(), DeadLetters(), []
    await run_batch(app, steps(calls), [(b"a", b"ab"), (b"b", b"cd")], dead)  # type: ignore[arg-type]
    assert calls == [("upper", [b"ab", b"cd"]), ("reverse", [b"AB", b"CD"]),
                     ("count", [b"BA", b"DC"])]
    assert app.producer.sent == [("articles", b"k", b"AB"), ("audit", None, b"ab"),
                                 ("articles", b"k", b"CD"), ("audit", None, b"cd"),
                                 ("tagged", b"k", b"BA"), ("tagged", b"k", b"DC")]
    assert dead.letters == []


async def test_a_bad_record_is_dead_lettered_by_its_stage_and_the_rest_flow_on() -> None:
    app, dead, calls = App(), DeadLetters(), []
    await run_batch(app, steps(calls), [(b"1", b"ok"), (b"2", b"bad"), (b"3", b"fine")],
                     dead)  # type: ignore[arg-type]
    # The first stage ran once for the whole batch; only the failing stage went one by one.
    assert [name for name, _ in calls].count("upper") == 1
    assert calls[1] == ("reverse", [b"OK", b"BAD", b"FINE"])
    assert sorted(v for name, values in calls if name == "count" for v in values) == [
        b"ENIF", b"KO"]
    [(key, value, headers)] = dead.letters
    assert (key, value) == (b"k", b"BAD")
    assert headers["stage"] == "reverse"
    assert headers["source_topic"] == "articles"
    assert headers["source_offset"] == "-1"  # written by this worker, not consumed
    assert headers["error"] == "ValueError: cannot reverse BAD"
    assert ("tagged", b"k", b"DAB") not in app.producer.sent


async def test_a_record_the_first_step_refuses_keeps_its_source_offset() -> None:
    app, dead, calls = App(), DeadLetters(), []
    await run_batch(app, steps(calls)[1:], [(b"x", b"good"), (b"y", b"BAD")], dead,
                     origins=[("raw", 2, 40), ("raw", 2, 41)])  # type: ignore[arg-type]
    [(key, value, headers)] = dead.letters
    assert (key, value) == (b"y", b"BAD")
    assert (headers["stage"], headers["source_topic"], headers["source_partition"],
            headers["source_offset"]) == ("reverse", "raw", "2", "41")


async def test_a_batch_returns_only_once_the_broker_has_every_output(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from aiokafka.errors import RequestTimedOutError
    from wirewatch.streams import backoff

    from tests.unit.streams.test_writes import FlakyProducer

    monkeypatch.setattr(backoff, "FIRST_SECONDS", 0.0)
    producer = FlakyProducer({b"AB": 1, b"DC": 2}, RequestTimedOutError())
    app, dead, calls = App(producer), DeadLetters(), []  # type: ignore[arg-type]
    await run_batch(app, steps(calls), [(b"a", b"ab"), (b"b", b"cd")], dead)  # type: ignore[arg-type]
    # Every stage ran once; the records the broker refused were written on a later try.
    assert [stage for stage, _ in calls] == ["upper", "reverse", "count"]
    assert sorted(producer.written) == [b"AB", b"BA", b"CD", b"DC", b"ab", b"cd"]


class Note(msgspec.Struct, frozen=True):
    text: str


def typed_steps(received: list[list[Note]], made: list[Note] | None = None) -> list[Step]:
    """make (raw bytes -> Note records on "notes", each also added to `made`), then keep
    (reads Note, adding what it took to `received`)."""

    async def make(values: list[bytes]) -> Batch:
        notes = [Note(value.decode()) for value in values]
        if made is not None:
            made.extend(notes)
        return Batch([[("notes", None, encode(note))] for note in notes],
                     records=[[note] for note in notes])

    async def keep(notes: list[Note]) -> Batch:
        received.append(notes)
        return Batch([[] for _ in notes])

    return [Step("make", "raw", make), Step("keep", "notes", keep, Note)]


async def test_a_step_takes_the_records_the_step_before_passed_on() -> None:
    app, dead, received, made = App(), DeadLetters(), [], []
    await run_batch(app, typed_steps(received, made), [(None, b"one"), (None, b"two")],
                    dead)  # type: ignore[arg-type]
    [notes] = received
    assert notes == [Note("one"), Note("two")]
    assert [decode(value, Note) for _, _, value in app.producer.sent] == notes
    # Not decoded again from the written bytes: the very objects the first step made.
    assert all(taken is first for taken, first in zip(notes, made, strict=True))


async def test_a_step_decodes_bytes_nobody_passed_on_and_dead_letters_what_does_not() -> None:
    app, dead, received = App(), DeadLetters(), []
    await run_batch(app, typed_steps(received)[1:],  # type: ignore[arg-type]
                    [(b"a", encode(Note("resent"))), (b"b", b"{not json")], dead)
    assert received == [[Note("resent")]]
    [(key, value, headers)] = dead.letters
    assert (key, value, headers["stage"]) == (b"b", b"{not json", "keep")


async def test_passed_on_records_follow_their_outputs_through_a_retry() -> None:
    """Events with none, one or two outputs for the next step, each beside an output to
    another topic; the next step refuses one passed-on record. Retried one by one, every
    record still arrives as the object made for it, and only the refused one is
    dead-lettered, as the bytes that were written for it."""
    made: list[Note] = []
    received: list[list[Note]] = []

    async def fan(values: list[bytes]) -> Batch:
        outputs, records = [], []
        for value in values:
            notes = [Note(f"{value.decode()}-{n}") for n in range(int(value[-1:]) % 3)]
            made.extend(notes)
            outputs.append([("audit", None, value)]
                           + [("notes", None, encode(note)) for note in notes])
            records.append([None, *notes])
        return Batch(outputs, records=records)

    async def keep(notes: list[Note]) -> Batch:
        received.append(notes)
        if Note("e2-1") in notes:
            raise ValueError("cannot keep e2-1")
        return Batch([[] for _ in notes])

    app, dead = App(), DeadLetters()
    await run_batch(app, [Step("fan", "raw", fan), Step("keep", "notes", keep, Note)],  # type: ignore[arg-type]
                    [(None, f"e{i}".encode()) for i in range(5)], dead)
    by_text = {note.text: note for note in made}
    assert list(by_text) == ["e1-0", "e2-0", "e2-1", "e4-0"]
    assert received[0] == [by_text[text] for text in by_text]  # the whole batch first
    assert [[note.text for note in notes] for notes in received[1:]] == [
        ["e1-0"], ["e2-0"], ["e2-1"], ["e4-0"]]
    assert all(notes[0] is by_text[notes[0].text] for notes in received[1:])
    [(_, value, headers)] = dead.letters
    assert (value, headers["stage"]) == (encode(Note("e2-1")), "keep")


async def test_records_shaped_unlike_the_outputs_fail_the_stage_not_the_worker() -> None:
    async def misshapen(values: list[bytes]) -> Batch:
        notes = [Note(value.decode()) for value in values]
        return Batch([[("notes", None, encode(note))] for note in notes],
                     records=[[note, note] for note in notes])

    app, dead, received = App(), DeadLetters(), []
    steps_ = [Step("misshapen", "raw", misshapen), typed_steps(received)[1]]
    await run_batch(app, steps_, [(b"a", b"one"), (b"b", b"two")], dead)  # type: ignore[arg-type]
    assert received == []
    assert [(key, headers["stage"]) for key, _, headers in dead.letters] == [
        (b"a", "misshapen"), (b"b", "misshapen")]
    assert "records shaped unlike its outputs" in dead.letters[0][2]["error"]
