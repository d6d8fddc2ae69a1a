"""Read a YAML file a user wrote: a read, encoding, syntax or size problem is one clear error.

Shared by every file wirewatch reads (feeds, channels, subscriptions, taxonomy and
watchlist), so each says the same things the same way and none lets a traceback through.
A file is refused before parsing when it is larger than `MAX_BYTES`, and after composing
(before any Python object is built) when it uses more than `MAX_ALIASES` aliases or would
expand to more than `MAX_NODES` nodes: aliases share nodes, so a 500-byte "billion laughs"
file is cheap to compose but expands to hundreds of millions of values the moment anything
walks it (repr, JSON, a merge key).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import Resolver
from yaml.scanner import Scanner

try:
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    HAS_LIBYAML = False
else:
    HAS_LIBYAML = True

MAX_BYTES = 10 * 1024 * 1024  # config files are kilobytes; the shipped taxonomy is 52 KB
MAX_ALIASES = 100
MAX_NODES = 1_000_000  # nodes after expanding every alias (the shipped taxonomy: ~9,000)

class YamlLimitError(yaml.YAMLError):
    """A document over the alias or node bound."""


class LocatedDict(dict[Any, Any]):
    """A mapping that remembers where it was written: its line and each key's line (1-based).

    Only `read_yaml(..., located=True)` makes these, for error messages that name a line.
    """

    line: int = 0
    key_lines: dict[Any, int]

    def line_of(self, key: Any) -> int:
        """The line of `key`'s value, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


class LocatedList(list[Any]):
    """A sequence that remembers the line of each of its items (1-based)."""

    lines: list[int]


def line_of(mapping: Any, key: Any = None) -> int | None:
    """The 1-based line a mapping (or one of its keys) was written on, when it was read with
    `located=True`; None for anything else."""
    if not isinstance(mapping, LocatedDict):
        return None
    return mapping.line if key is None else mapping.line_of(key)


def unknown_key_message(key: object, known: Iterable[str]) -> str:
    """"unknown key 'nmae' (did you mean 'name'? known keys: ...)", for every file's entries."""
    names = list(known)
    close = difflib.get_close_matches(str(key), names, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"unknown key {str(key)!r} ({hint}known keys: {', '.join(names)})"


def _expanded_size(root: yaml.Node) -> int:
    """Nodes in the document if every alias were copied out, computed without copying."""
    sizes: dict[int, int] = {}
    pending: list[tuple[yaml.Node, bool]] = [(root, False)]
    while pending:  # iterative: a deeply nested file must not overflow the stack here
        node, children_done = pending.pop()
        if id(node) in sizes:
            continue
        children: list[yaml.Node] = []
        if isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        elif isinstance(node, yaml.MappingNode):
            children = [part for pair in node.value for part in pair]
        if children_done:
            sizes[id(node)] = min(MAX_NODES + 1, 1 + sum(sizes[id(c)] for c in children))
        else:
            pending.append((node, True))
            pending.extend((child, False) for child in children if id(child) not in sizes)
    return sizes[id(root)]


def _construct_map(loader: _LimitedLoader, node: yaml.MappingNode) -> Iterator[dict[Any, Any]]:
    """SafeConstructor's mapping, remembering lines when the loader is `located`."""
    if not loader.located:
        yield from loader.construct_yaml_map(node)
        return
    data = LocatedDict()
    data.line, data.key_lines = node.start_mark.line + 1, {}
    yield data
    data.update(loader.construct_mapping(node))  # flattens merge keys (<<) into node.value
    for key_node, value_node in node.value:  # later duplicates win, as in the mapping
        data.key_lines[loader.construct_object(key_node)] = value_node.start_mark.line + 1


def _construct_seq(loader: _LimitedLoader, node: yaml.SequenceNode) -> Iterator[list[Any]]:
    if not loader.located:
        yield from loader.construct_yaml_seq(node)
        return
    data = LocatedList()
    data.lines = [item.start_mark.line + 1 for item in node.value]
    yield data
    data.extend(loader.construct_sequence(node))


class _LimitedLoader(Composer, SafeConstructor, Resolver):
    """SafeLoader semantics with bounded aliases and expansion; the parser is a subclass's."""

    yaml_constructors = {**SafeConstructor.yaml_constructors,
                         "tag:yaml.org,2002:map": _construct_map,
                         "tag:yaml.org,2002:seq": _construct_seq}
    # The parser a subclass mixes in (libyaml's or PyYAML's) provides these.
    check_event: Callable[..., bool]
    peek_event: Callable[[], Any]
    dispose: Callable[[], None]

    def __init__(self, stream: str, located: bool = False) -> None:
        self.init_parser(stream)
        Composer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)
        self.aliases = 0
        self.located = located

    def init_parser(self, stream: str) -> None:
        raise NotImplementedError

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node | None:
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise YamlLimitError(f"more than {MAX_ALIASES} aliases (*name), the last at "
                                     f"line {self.peek_event().start_mark.line + 1}: refused, "
                                     "aliases can expand a small file beyond any memory")
        return super().compose_node(parent, index)

    def get_single_node(self) -> yaml.Node | None:
        node: yaml.Node | None = super().get_single_node()
        # Without aliases the node count is the file's, already bounded by its size.
        if node is not None and self.aliases and _expanded_size(node) > MAX_NODES:
            raise YamlLimitError(f"the document expands to more than {MAX_NODES:,} values "
                                 "through its aliases: refused")
        return node


class _PythonLoader(_LimitedLoader, Reader, Scanner, Parser):
    def init_parser(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)


LOADER: type[_LimitedLoader] = _PythonLoader
if HAS_LIBYAML:
    # libyaml scans and parses (several times faster); composing stays in Python so that
    # aliases are counted before anything is built: CParser's own composer is sealed in C.
    class _CLoader(_LimitedLoader, CParser):
        def init_parser(self, stream: str) -> None:
            CParser.__init__(self, stream)

    LOADER = _CLoader


def parse_yaml(text: str, *, located: bool = False,
               loader_class: type[_LimitedLoader] | None = None) -> Any:
    """The parsed document, within the alias and node bounds (raises yaml.YAMLError)."""
    loader = (loader_class or LOADER)(text, located)
    try:
        return loader.get_single_data()
    finally:
        loader.dispose()


def _read_capped(path: Path, max_bytes: int) -> bytes | None:
    """The file's bytes, or None past `max_bytes`: read in chunks, so that neither a FIFO
    nor a growing file outruns the cap and a small file costs no cap-sized buffer."""
    chunks: list[bytes] = []
    size = 0
    with path.open("rb") as file:
        while chunk := file.read(64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                return None
            chunks.append(chunk)
    return b"".join(chunks)


def read_yaml(path: Path, error: Callable[[str], Exception], what: str = "", *,
              located: bool = False, max_bytes: int = MAX_BYTES) -> Any:
    """The parsed document; `error(message)` is raised for a file that cannot be used.

    `what` names the file in messages ("feeds file"); empty, the path alone does. With
    `located`, mappings are LocatedDicts and lists LocatedLists, so that errors can name
    the line of an entry (neither is for yaml.safe_dump, which wants plain dicts and lists).
    """
    label = f"{what} {path}" if what else str(path)
    try:
        data = _read_capped(path, max_bytes)
        if data is None:
            raise error(f"{label} is larger than {max_bytes:,} bytes: refused")
        return parse_yaml(data.decode("utf-8"), located=located)
    except OSError as exc:
        raise error(f"cannot read {label}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise error(f"cannot read {label}: not UTF-8 ({exc})") from exc
    except YamlLimitError as exc:
        raise error(f"{label}: {exc}") from exc
    except yaml.YAMLError as exc:
        where = str(exc).replace('"<unicode string>"', str(path))  # marks name the file
        raise error(f"{label} is not valid YAML: {where}") from exc
    except RecursionError as exc:
        raise error(f"{label} is nested too deeply to read") from exc
