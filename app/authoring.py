"""A scenario written by hand, as YAML text: validated with each problem placed at its line and column.

The engine's own checks (``parse_scenario``) say what is wrong and how to fix it; this module adds where. YAML is
composed into nodes, which remember their marks (line and column), and each problem's location is walked down
those nodes: a pydantic error by its ``loc`` path, a cross-check by the thread, routine, socket or statement its
sentence names. A problem that names no place is shown at the top of the document.

An author's scenario needs none of the library's promises (``expect``, ``demo``, ``bugs``): the engine makes them
optional, and nothing here asks for them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import yaml
from pydantic import ValidationError

from app.sim import CompiledScenario, Scenario, compile_scenario

# The largest built-in is under 3,000 characters. 40,000 also keeps the JSON request within the 512 KB body limit
# when every character is escaped (a character outside the BMP is 12 bytes, two \\u escapes).
MAX_YAML_CHARS = 40_000
MAX_NODES = 20_000  # nodes after aliases are followed: an alias bomb is refused before it is expanded
MAX_ERRORS = 50


@dataclass(frozen=True)
class Problem:
    """One problem of a scenario's text: where (1-based line and column), which field, and what to do."""

    line: int
    column: int
    field: str
    message: str


@dataclass(frozen=True)
class Checked:
    """The outcome of checking a text: the compiled scenario when it is valid, else its problems."""

    compiled: CompiledScenario | None
    data: dict[str, Any] | None
    problems: list[Problem]


class _Loader(yaml.SafeLoader):
    """Safe YAML in which dates stay text: a scenario has no dates, and JSON has no date type."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


MAX_DOCUMENTS = 4  # designs compared side by side


def check_yaml(text: str) -> Checked:
    """Validate one scenario written as YAML; never raises for any text."""
    documents, problems = check_documents(text)
    if problems or len(documents) != 1:
        return Checked(None, None, problems or [_whole(len(documents))])
    return documents[0]


def _whole(count: int) -> Problem:
    return Problem(
        1,
        1,
        "",
        "Write one scenario: a mapping with at least id, title, summary and threads"
        + (f" (this text has {count} YAML documents; Compare designs takes several)." if count > 1 else "."),
    )


def check_documents(text: str) -> tuple[list[Checked], list[Problem]]:
    """Validate every scenario of a text (several YAML documents, separated by '---', are several designs to
    compare). Returns each document's result and all problems, in text order; never raises for any text."""
    if len(text) > MAX_YAML_CHARS:
        message = (
            f"The text is {len(text):,} characters long; the limit is {MAX_YAML_CHARS:,}. Shorten it "
            "(a scenario must also fit in a link)."
        )
        return [], [Problem(1, 1, "", message)]
    try:
        nodes = [node for node in yaml.compose_all(text, Loader=_Loader) if node is not None]
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        what = err.problem or "this is not valid YAML"
        context = ""
        if err.context and err.context_mark is not None and err.context_mark is not mark:
            context = f" ({err.context} that starts at line {err.context_mark.line + 1})"
        line, column = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        return [], [
            Problem(line, column, "", f"YAML syntax: {what}{context}. Check the indentation and quoting.")
        ]
    except (yaml.YAMLError, RecursionError) as err:
        return [], [Problem(1, 1, "", f"This is not valid YAML: {str(err)[:200]}.")]
    if not nodes:
        return [], [_whole(0)]
    if len(nodes) > MAX_DOCUMENTS:
        return [], [
            Problem(
                _line(nodes[MAX_DOCUMENTS]),
                1,
                "",
                f"At most {MAX_DOCUMENTS} designs can be compared; this text has {len(nodes)}. Remove some.",
            )
        ]
    documents = [check_node(node) for node in nodes]
    return documents, sorted((p for d in documents for p in d.problems), key=lambda p: (p.line, p.column))


def check_node(root: yaml.Node) -> Checked:
    """Validate one composed YAML document as a scenario."""
    problem = _plain(root)
    if problem is not None:
        return Checked(None, None, [problem])
    try:
        data = _Loader("").construct_document(root)
    except yaml.MarkedYAMLError as err:  # a tag this format has no use for, such as !!python/object
        mark = err.problem_mark or root.start_mark
        what = f"{err.problem or 'this value cannot be read'}".split("\n")[0]
        return _fail(
            mark.line + 1, mark.column + 1, "", f"YAML: {what}; write plain values without '!!' tags."
        )
    except (yaml.YAMLError, ValueError, TypeError, RecursionError) as err:
        return _fail(_line(root), _col(root), "", f"This YAML cannot be read as data: {str(err)[:200]}.")
    if not isinstance(data, dict):
        return _fail(
            _line(root),
            _col(root),
            "",
            "A scenario is a mapping with at least id, title, summary and threads.",
        )
    try:
        scenario = Scenario.model_validate_json(json.dumps(data))
    except ValidationError as err:
        return Checked(None, data, _place_all(root, err.errors()))
    except ValueError as err:  # a number too large for JSON, say
        return _fail(_line(root), _col(root), "", f"The scenario cannot be read as data: {str(err)[:200]}.")
    try:
        compiled = compile_scenario(scenario)
    except ValueError as err:
        return _fail(_line(root), _col(root), "", str(err)[:500])
    return Checked(compiled, data, [])


def _fail(line: int, column: int, field: str, message: str) -> Checked:
    return Checked(None, None, [Problem(line, column, field, message)])


def _line(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def _col(node: yaml.Node) -> int:
    return int(node.start_mark.column) + 1


def _plain(root: yaml.Node) -> Problem | None:
    """The first thing JSON cannot hold (a non-text key, binary data, a set), or too many nodes; None if plain."""
    seen = 0
    stack = [root]
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_NODES:
            return Problem(
                _line(root),
                _col(root),
                "",
                f"The scenario has more than {MAX_NODES:,} values once its aliases are followed; write it out "
                "without '*' aliases, or make it smaller.",
            )
        if node.tag in ("tag:yaml.org,2002:binary", "tag:yaml.org,2002:set", "tag:yaml.org,2002:omap"):
            return Problem(
                _line(node), _col(node), "", f"'{node.tag.rsplit(':', 1)[-1]}' values are not allowed here."
            )
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.tag != "tag:yaml.org,2002:str":
                    return Problem(
                        _line(key),
                        _col(key),
                        "",
                        "A key must be a plain name (text); quote it if it looks like a number, a boolean or null.",
                    )
                stack += [key, value]
        elif isinstance(node, yaml.SequenceNode):
            stack += list(node.value)
    return None


# -- where each problem is --------------------------------------------------------------------------------------------


def _child(node: yaml.Node | None, part: str | int) -> yaml.Node | None:
    """The value node under a mapping key or at a sequence index; None when there is none."""
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if key.value == str(part):
                return value  # type: ignore[no-any-return]
    elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        return node.value[part]  # type: ignore[no-any-return]
    return None


def _key(node: yaml.Node | None, name: str) -> yaml.Node | None:
    """The key node of ``name`` in a mapping (a missing field is shown where its mapping starts)."""
    if isinstance(node, yaml.MappingNode):
        for key, _ in node.value:
            if key.value == name:
                return key  # type: ignore[no-any-return]
    return None


def locate(root: yaml.Node, path: tuple[str | int, ...]) -> yaml.Node:
    """The deepest node along ``path``. Parts that are not in the text (a union's tag such as 'WskSend', or
    pydantic's 'function-after[...]') are stepped over."""
    node = root
    for part in path:
        found = _child(node, part)
        if found is not None:
            node = found
    return node


def _field(root: yaml.Node, path: tuple[str | int, ...]) -> str:
    """The dotted path of the parts of ``path`` that are in the text ('threads.1.program.3.irp')."""
    parts: list[str] = []
    node: yaml.Node | None = root
    for part in path:
        found = _child(node, part)
        if found is not None:
            parts.append(str(part))
            node = found
    return ".".join(parts)


def _place_all(root: yaml.Node, errors: list[Any]) -> list[Problem]:
    problems: list[Problem] = []
    for error in errors[:MAX_ERRORS]:
        loc = tuple(error["loc"])
        message = str(error["msg"]).removeprefix("Value error, ")
        field = _field(root, loc)
        if not loc:  # the scenario's own cross-checks: one sentence per problem, each naming its place
            problems += [_place_sentence(root, sentence) for sentence in message.split("; ")]
            continue
        node = locate(root, loc)
        if error["type"] == "missing":
            # The field is absent: point at the mapping that should hold it, and name the field.
            field = ".".join(filter(None, (_field(root, loc[:-1]), str(loc[-1]))))
            message = f"'{loc[-1]}' is required here: add it."
        elif error["type"] == "extra_forbidden":
            key = _key(locate(root, loc[:-1]), str(loc[-1]))
            node = key or node
            message = f"'{loc[-1]}' is not a field here: remove it, or check its spelling (see the format)."
        problems.append(Problem(_line(node), _col(node), field, message))
    problems.sort(key=lambda p: (p.line, p.column))
    return problems


_STATEMENT = re.compile(r"statement (\d+) \(")
_OPERATION = re.compile(r"^thread '([^']+)' operation '([^']+)'")
_NAMED = re.compile(r"^(thread|routine|socket|memory) '([^']+)'")
_TOP_FIELDS = (("'demo'", "demo"), ("'bugs'", "bugs"), ("'family'", "family"), ("unknown violation", "bugs"))


def _place_sentence(root: yaml.Node, sentence: str) -> Problem:
    """A cross-check's sentence ("thread 'Closer', statement 3 (WskCloseSocket): ...") at the node it names."""
    path: list[str | int] = []
    named = _NAMED.match(sentence)
    operation = _OPERATION.match(sentence)
    if operation:
        thread = _index_by_name(_child(root, "threads"), operation.group(1))
        menu = _child(_child(_child(root, "threads"), thread), "menu") if thread is not None else None
        op = _index_by(menu, "id", operation.group(2))
        path = ["threads", thread, "menu", op, "program"] if thread is not None and op is not None else []
    elif named:
        kind, name = named.groups()
        if kind == "routine":
            path = ["routines", name, "program"]
        else:
            section = {"thread": "threads", "socket": "sockets", "memory": "memory"}[kind]
            index = _index_by_name(_child(root, section), name)
            path = [section, index] if index is not None else [section]
            if kind == "thread":
                path.append("program")
    else:
        for needle, field in _TOP_FIELDS:
            if needle in sentence:
                path = [field]
                break
    statement = _STATEMENT.search(sentence)
    if statement and path and path[-1] == "program":
        path.append(int(statement.group(1)) - 1)
    node = locate(root, tuple(path))
    return Problem(_line(node), _col(node), ".".join(str(p) for p in path), sentence)


def _index_by(node: yaml.Node | None, key: str, value: str) -> int | None:
    if isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found = _child(item, key)
            if isinstance(found, yaml.ScalarNode) and found.value == value:
                return index
    return None


def _index_by_name(node: yaml.Node | None, name: str) -> int | None:
    return _index_by(node, "name", name)


class _Dumper(yaml.SafeDumper):
    """Block style for the scenario's structure, one line per statement (as the built-in files are written)."""


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flat = all(not isinstance(v, dict | list) for v in data.values())
    items = sorted(data.items(), key=lambda kv: kv[0] != "op")  # a statement starts with its operation
    return dumper.represent_mapping(
        "tag:yaml.org,2002:map", items, flow_style="op" in data or (flat and len(data) <= 4)
    )


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flat = all(not isinstance(v, dict | list) for v in data)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flat)


_Dumper.add_representer(dict, _represent_dict)
_Dumper.add_representer(list, _represent_list)


def scenario_yaml(scenario: Scenario) -> str:
    """A scenario as YAML an author can edit: fields in the format's order, defaults left out, statements one per
    line. It reads back as the same scenario (the same fingerprint)."""
    data = scenario.model_dump(mode="json", exclude_defaults=True)
    if "demo" in data:
        data["demo"] = ".".join(data["demo"])
    text: str = yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=110)
    return text
