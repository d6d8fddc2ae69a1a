"""A small known history for replay tests: stories, their syndicated copies and times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from wirewatch.connectors.records import RawItem

# The window under test starts here: recent, so Apache Kafka's 7-day retention keeps the
# records, and every item (the last at T0 + 6 h) lies in the past.
T0 = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) - timedelta(hours=7)

OPENAI = ("OpenAI names new head of its safety team after leadership shake-up",
          "OpenAI on Tuesday appointed a new head of its superalignment and safety team, "
          "weeks after the previous leader resigned. The company said the chief executive "
          "had named the longtime researcher to lead the group, which studies the risks of "
          "advanced AI models. The appointment follows the departure of several senior "
          "staff members who left over disagreements about safety priorities. A spokesperson "
          "said the new head would report directly to the chief executive and that the team "
          "would keep its compute budget.")
MICROSOFT = ("Microsoft quarterly profit beats estimates as cloud revenue jumps",
             "Microsoft Corp reported quarterly earnings on Wednesday that beat analyst "
             "estimates, as revenue from its Azure cloud business rose 31 percent. Net income "
             "rose to 24.7 billion dollars, or 3.30 dollars per share, compared with 2.93 "
             "dollars a year earlier. Revenue climbed 16 percent to 65.6 billion dollars. "
             "The company said earnings per share for the fiscal first quarter exceeded its "
             "own forecast and raised its outlook for the full year.")
GARDEN = ("Community garden opens on the riverside",
          "Volunteers opened a new community garden on the riverside on Saturday, with "
          "thirty raised beds, a tool shed and a small orchard planted by local schools. "
          "Organisers said the plots were allocated by lottery and a waiting list is open.")
WRAPPERS = ["Breaking from the wire: ", "Source link. ", "We use cookies on this site. "]


def item(number: int, story: tuple[str, str], outlet: str, at: datetime) -> RawItem:
    title, body = story
    return RawItem(item_id=f"{outlet}-{number}", feed_id=outlet, feed_url=f"https://{outlet}/rss",
                   source=outlet, url=f"https://{outlet}/news/{number}", title=title,
                   content=WRAPPERS[number % 3] + body, fetched_at=at, published=at)


def history() -> list[RawItem]:
    """Ten items: an OpenAI office story before the window; in the window [T0, T0 + 3h)
    three copies of an OpenAI leadership story, two of a Microsoft earnings story and two
    of a garden story; after it one more copy each of the OpenAI and Microsoft stories."""
    before = ("OpenAI opens an office in Tokyo",
              "OpenAI said on Monday it would open an office in Tokyo, its first in Asia, "
              "to work with Japanese businesses and the government. The office will be led "
              "by a country manager hired from a local technology firm and start with a "
              "dozen staff members working on sales and partnerships.")
    return [
        item(1, before, "wire.example", T0 - timedelta(hours=2)),
        item(2, OPENAI, "wire.example", T0 + timedelta(minutes=10)),
        item(3, OPENAI, "techblog.example", T0 + timedelta(minutes=20)),
        item(4, GARDEN, "localnews.example", T0 + timedelta(minutes=30)),
        item(5, OPENAI, "aidaily.example", T0 + timedelta(minutes=40)),
        item(6, MICROSOFT, "markets.example", T0 + timedelta(minutes=50)),
        item(7, MICROSOFT, "wire.example", T0 + timedelta(minutes=70)),
        item(8, GARDEN, "wire.example", T0 + timedelta(minutes=80)),
        item(9, MICROSOFT, "finance.example", T0 + timedelta(hours=5)),
        item(10, OPENAI, "late.example", T0 + timedelta(hours=6)),
    ]
