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
from typing import Any, NamedTuple

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
    """A document over the alias or node bound; `mark` is where, when one place is to blame."""

    def __init__(self, message: str, mark: Any = None) -> None:
        super().__init__(message)
        self.mark = mark


class Position(NamedTuple):
    """A 1-based line and column in a file; prints as "line:column"."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


def _position(mark: Any) -> Position:
    """A PyYAML or libyaml mark (0-based, columns in characters) as a Position."""
    return Position(mark.line + 1, mark.column + 1)


class LocatedDict(dict[Any, Any]):
    """A mapping that remembers where it was written, and where each key and value was.

    Only `read_yaml(..., located=True)` makes these, for error messages that name a place.
    """

    position: Position = Position(0, 0)
    key_positions: dict[Any, Position]
    value_positions: dict[Any, Position]

    @property
    def line(self) -> int:
        return self.position.line

    def line_of(self, key: Any) -> int:
        """The line of `key`'s value, or of the mapping itself when the key is absent."""
        return self.value_positions.get(key, self.position).line


class LocatedList(list[Any]):
    """A sequence that remembers where each of its items was written."""

    positions: list[Position]

    @property
    def lines(self) -> list[int]:
        return [position.line for position in self.positions]


def position_of(node: Any, key: Any = None, *, of_key: bool = False) -> Position | None:
    """Where something read with `located=True` was written; None for anything else.

    For a mapping: the mapping itself, or with `key` that key's value (with `of_key` the key
    itself), the mapping's own position when the key is absent. For a list: item `key`.
    """
    if isinstance(node, LocatedList):
        return node.positions[key] if isinstance(key, int) and 0 <= key < len(node) else None
    if not isinstance(node, LocatedDict):
        return None
    if key is None:
        return node.position
    return (node.key_positions if of_key else node.value_positions).get(key, node.position)


def at(file: object, position: Position | None) -> str:
    """"file:line:column" for an error message, or "file" alone when the place is unknown."""
    return f"{file}:{position}" if position else str(file)


def _prefix(path: Path, position: Position | None) -> str:
    """"path:line:column: " before a whole-file message, nothing when no one place is known."""
    return f"{path}:{position}: " if position else ""


def line_of(mapping: Any, key: Any = None) -> int | None:
    """The 1-based line a mapping (or one of its keys' values) was written on, when it was
    read with `located=True`; None for anything else."""
    position = position_of(mapping, key) if isinstance(mapping, LocatedDict) else None
    return position.line if position else None


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
    data.position, data.key_positions, data.value_positions = _position(node.start_mark), {}, {}
    yield data
    data.update(loader.construct_mapping(node))  # flattens merge keys (<<) into node.value
    for key_node, value_node in node.value:  # later duplicates win, as in the mapping
        key = loader.construct_object(key_node)
        data.key_positions[key] = _position(key_node.start_mark)
        data.value_positions[key] = _position(value_node.start_mark)


def _construct_seq(loader: _LimitedLoader, node: yaml.SequenceNode) -> Iterator[list[Any]]:
    if not loader.located:
        yield from loader.construct_yaml_seq(node)
        return
    data = LocatedList()
    data.positions = [_position(item.start_mark) for item in node.value]
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
                mark = self.peek_event().start_mark
                raise YamlLimitError(f"more than {MAX_ALIASES} aliases (*name), the last at "
                                     f"line {mark.line + 1}: refused, aliases can expand a "
                                     "small file beyond any memory", mark)
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


def _position_in(text: str, index: int) -> Position:
    """The Position of character `index` of `text`."""
    return Position(text.count("\n", 0, index) + 1, index - text.rfind("\n", 0, index))


def _syntax_error(exc: yaml.YAMLError, text: str) -> tuple[Position | None, str]:
    """Where a parse error is and what PyYAML says, its marks without the stream's name."""
    detail = str(exc).replace('in "<unicode string>", ', "")
    if isinstance(exc, yaml.MarkedYAMLError) and exc.problem_mark is not None:
        return _position(exc.problem_mark), detail
    if isinstance(exc, yaml.reader.ReaderError) and isinstance(exc.character, int):
        # libyaml counts this position in bytes, PyYAML in characters; the character is
        # the file's first unprintable one either way
        index = text.find(chr(exc.character))
        return (_position_in(text, index) if index >= 0 else None), detail
    return None, detail


def read_yaml(path: Path, error: Callable[[str], Exception], what: str = "", *,
              located: bool = False, max_bytes: int = MAX_BYTES) -> Any:
    """The parsed document; `error(message)` is raised for a file that cannot be used.

    `what` names the file in messages ("feeds file"); empty, the path alone does. A problem
    at one place starts "path:line:column: ". With `located`, mappings are LocatedDicts and
    lists LocatedLists, so that errors can name the place of an entry, key or value (neither
    is for yaml.safe_dump, which wants plain dicts and lists).
    """
    label = f"{what} {path}" if what else str(path)
    text = ""
    try:
        data = _read_capped(path, max_bytes)
        if data is None:
            raise error(f"{label} is larger than {max_bytes:,} bytes: refused")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            valid = data[:exc.start].decode("utf-8")  # everything before the first bad byte
            raise error(f"{_prefix(path, _position_in(valid, len(valid)))}cannot read "
                        f"{label}: not UTF-8 ({exc})") from exc
        return parse_yaml(text, located=located)
    except OSError as exc:
        raise error(f"cannot read {label}: {exc.strerror or exc}") from exc
    except YamlLimitError as exc:
        position = _position(exc.mark) if exc.mark is not None else None
        raise error(f"{_prefix(path, position)}{label}: {exc}") from exc
    except yaml.YAMLError as exc:
        position, detail = _syntax_error(exc, text)
        raise error(f"{_prefix(path, position)}{label} is not valid YAML: {detail}") from exc
    except RecursionError as exc:
        raise error(f"{label} is nested too deeply to read") from exc
