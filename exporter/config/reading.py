"""The strict YAML reader shared by the config and the web config.

``read_yaml`` turns text into data like ``yaml.safe_load``, and also:

- notes the line of every key and list item (``Document.lines``), so a problem found
  later can name its line;
- finds keys written twice in one mapping (``Document.duplicates``), which YAML would
  silently collapse into the last one;
- refuses, as a ``YamlError`` naming line and column, a document nested deeper than
  ``MAX_DEPTH`` or holding more than ``MAX_VALUES`` values, ``MAX_ALIAS_VALUES`` of them
  added by aliases ("billion laughs"), and raw control characters; every other YAML
  error too.

It never builds arbitrary objects (a ``SafeLoader``) and never walks a document as a
tree before its size is known.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from exporter.config.errors import Path, escaped

__all__ = [
    "MAX_ALIAS_VALUES",
    "MAX_DEPTH",
    "MAX_VALUES",
    "Document",
    "Duplicate",
    "YamlError",
    "read_yaml",
]

# Bounds that keep a hostile or mistaken file from hanging or crashing the loader (and a
# reload). A config for thousands of accounts stays far inside every one of them.
MAX_DEPTH = 32  # levels of nesting; a config needs about 5
MAX_VALUES = 100_000  # YAML nodes (scalars, lists, mappings), every alias counted in full
MAX_ALIAS_VALUES = 50_000  # of those, nodes that aliases add ("billion laughs" stop here)


class YamlError(Exception):
    """Text that is not a document the reader accepts.

    ``line`` and ``column`` (from 1) are where reading stopped, when known; ``problem``
    is the bare reason (PyYAML's own words, or the bound the file crossed); ``str()`` the
    whole description, e.g. ``YAML syntax error: found character '\\t' that cannot start
    any token; indent with spaces, not tabs (while scanning for the next token)``.
    """

    def __init__(
        self,
        description: str,
        problem: str | None = None,
        line: int | None = None,
        column: int | None = None,
    ) -> None:
        super().__init__(description)
        self.description = description
        self.problem = problem or description
        self.line = line
        self.column = column

    def __str__(self) -> str:
        return self.description


@dataclass(frozen=True)
class Duplicate:
    """A key written a second time in one mapping: at ``path``, on ``line``."""

    path: Path
    line: int
    first_line: int


@dataclass(frozen=True)
class Document:
    """What ``read_yaml`` read: the data, the line of each key and list item by path, and
    the keys written twice (in file order)."""

    data: Any
    lines: dict[Path, int]
    duplicates: tuple[Duplicate, ...]


def read_yaml(text: str, *, many_values_advice: str = "") -> Document:
    """Read one YAML document strictly (see the module docstring); raise ``YamlError``.

    ``many_values_advice`` ends the message for a document over ``MAX_VALUES`` values,
    after "check that this is the config file": what to do instead.
    """
    try:
        loader = _BoundedLoader(text, many_values_advice)  # refuses unprintable characters
    except yaml.reader.ReaderError as exc:
        raise _unprintable_error(exc, text) from None
    try:
        node = loader.get_single_node()
        lines: dict[Path, int] = {}
        duplicates: list[Duplicate] = []
        if node is None:
            return Document(None, lines, ())
        _index_nodes(loader, node, (), lines, duplicates, set())
        return Document(loader.construct_document(node), lines, tuple(duplicates))
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(exc) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"YAML error: {exc}", str(exc)) from None
    finally:
        loader.dispose()


class _BoundedLoader(yaml.SafeLoader):
    """``SafeLoader`` that stops at ``MAX_DEPTH`` levels and ``MAX_VALUES`` nodes, at most
    ``MAX_ALIAS_VALUES`` of them added by aliases, each alias counted in full.

    PyYAML shares one node per anchor, so a few hundred bytes of aliases of aliases
    ("billion laughs") stand for billions of values once anything walks the document as
    a tree: the line index below, a credential scan, validation. Counting while the
    nodes are composed stops such a file at the alias that crosses the bound, before
    anything expands it; the depth bound keeps the composer's recursion (and every walk
    after it) far from Python's recursion limit.
    """

    def __init__(self, stream: str, many_values_advice: str) -> None:
        super().__init__(stream)
        self._many_values_advice = many_values_advice
        self._depth = 0  # nodes open around the next one
        self._values = 0
        self._alias_values = 0
        self._size: dict[int, int] = {}  # by id(node): nodes in it, aliases expanded
        self._height: dict[int, int] = {}  # by id(node): its levels, aliases expanded
        self._child_height = [0]  # per open node: the highest child so far

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            node = super().compose_node(parent, index)
            # An alias of a node still open (a recursive alias) adds one node.
            size, height = self._size.get(id(node), 1), self._height.get(id(node), 1)
            self._alias_values += size
            self._values += size
            if self._alias_values > MAX_ALIAS_VALUES:
                raise _refused(
                    event.start_mark,
                    f"refused: with alias *{event.anchor} the aliases in this file expand to "
                    f"more than {MAX_ALIAS_VALUES} values (aliases of aliases multiply, as in "
                    'a "billion laughs" attack); a config needs only a few small aliases: '
                    "write the values out instead",
                )
            if self._depth + height > MAX_DEPTH:
                raise _refused(
                    event.start_mark,
                    f"refused: alias *{event.anchor} nests the document more than {MAX_DEPTH} "
                    "levels deep, which no config needs; write the values out instead",
                )
            self._check_values(event.start_mark)
            self._child_height[-1] = max(self._child_height[-1], height)
            return node
        if self._depth >= MAX_DEPTH:
            raise _refused(
                event.start_mark,
                f"refused: nested more than {MAX_DEPTH} levels deep, which no config needs; "
                "check the brackets and indentation",
            )
        self._values += 1
        self._check_values(event.start_mark)
        before = self._values - 1
        self._depth += 1
        self._child_height.append(0)
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            height = 1 + self._child_height.pop()
        self._size[id(node)] = self._values - before
        self._height[id(node)] = height
        self._child_height[-1] = max(self._child_height[-1], height)
        return node

    def _check_values(self, mark: yaml.Mark) -> None:
        if self._values > MAX_VALUES:
            advice = f", and {self._many_values_advice}" if self._many_values_advice else ""
            raise _refused(
                mark,
                f"refused: the document holds more than {MAX_VALUES} values (each alias "
                "counted in full), far more than a config needs; check that this is the "
                f"config file{advice}",
            )


def _refused(mark: yaml.Mark, message: str) -> YamlError:
    return YamlError(message, message, mark.line + 1, mark.column + 1)


def _unprintable_error(exc: yaml.reader.ReaderError, text: str) -> YamlError:
    position = exc.position
    line = text.count("\n", 0, position) + 1
    column = position - text.rfind("\n", 0, position)
    shown = escaped(chr(exc.character)) if isinstance(exc.character, int) else "?"
    problem = f"unprintable character {shown} is not allowed in a YAML file; remove it"
    return YamlError(f"YAML error: {problem}", problem, line, column)


def _syntax_error(exc: yaml.MarkedYAMLError) -> YamlError:
    mark = exc.problem_mark or exc.context_mark
    problem = exc.problem or exc.context
    text = f"YAML syntax error: {problem}"
    if exc.problem and "'\\t'" in exc.problem:
        text += "; indent with spaces, not tabs"
    if exc.problem and exc.context:
        context_line = f" on line {exc.context_mark.line + 1}" if exc.context_mark else ""
        text += f" ({exc.context}{context_line})"
    if mark is None:
        return YamlError(text, problem)
    return YamlError(text, problem, mark.line + 1, mark.column + 1)


def _index_nodes(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path,
    lines: dict[Path, int],
    duplicates: list[Duplicate],
    active: set[int],
) -> None:
    if id(node) in active:  # a recursive alias: indexed already
        return
    active.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge" or not isinstance(
                key_node, yaml.ScalarNode
            ):
                continue
            key, line = key_node.value, key_node.start_mark.line + 1
            child = (*path, key)
            if key in seen:
                duplicates.append(Duplicate(child, line, seen[key]))
            else:
                seen[key] = line
                lines.setdefault(child, line)
            if key_node.tag != "tag:yaml.org,2002:str":  # a key YAML reads as true, 1, ...
                lines.setdefault((*path, loader.construct_object(key_node)), line)
            _index_nodes(loader, value_node, child, lines, duplicates, active)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            child = (*path, index)
            lines.setdefault(child, item.start_mark.line + 1)
            _index_nodes(loader, item, child, lines, duplicates, active)
    active.discard(id(node))
