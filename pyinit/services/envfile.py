"""``env_file`` (the ``docker --env-file`` format) and ``${VAR}`` expansion in service settings.

Both happen once, when the configuration is loaded: a service's environment is
then fixed, and a missing variable is a configuration error, reported with
the others before anything starts, rather than an empty string in a running
service.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any


class ExpandError(ValueError):
    """A ``${VAR}`` that has neither a value nor a default, or a malformed reference."""

    def __init__(self, message: str, variable: str = "") -> None:
        super().__init__(message)
        self.variable = variable


def parse_env_file(text: str, path: str) -> dict[str, str]:
    """``KEY=VALUE`` lines, ``#`` comments, blank lines; no quoting, no shell evaluation.

    As ``docker --env-file``: the value is everything after the first ``=``,
    taken literally (quotes included), and a line holding only ``KEY`` takes
    that variable's value from pyinit's environment (the caller passes it).
    Raises ``ValueError`` naming the line for anything else.
    """
    values: dict[str, str] = {}
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.lstrip()
        if not line or line.startswith("#"):
            continue
        key, equals, value = line.partition("=")
        if not key or key != key.strip() or any(c.isspace() for c in key):
            raise ValueError(f"{path}:{number}: expected KEY=VALUE, not {raw.strip()!r}")
        if equals:
            values[key] = value
        else:
            values[key] = "\0"  # marker: "take it from the environment", resolved by read_env_files
    return values


def read_env_files(paths: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """The files in order (a later one wins); a path starting with ``-`` may be missing.

    Raises ``ValueError`` with one line per problem.
    """
    merged: dict[str, str] = {}
    for given in paths:
        optional = given.startswith("-")
        path = given[1:] if optional else given
        try:
            with open(path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            if optional:
                continue
            raise ValueError(f"env_file {path!r}: no such file (start the name with '-' if it is optional)") from None
        except OSError as exc:
            raise ValueError(f"env_file {path!r}: cannot read: {exc.strerror}") from None
        except UnicodeDecodeError:
            raise ValueError(f"env_file {path!r}: not UTF-8 text") from None
        for key, value in parse_env_file(text, path).items():
            if value == "\0":
                if key in environ:
                    merged[key] = environ[key]
            else:
                merged[key] = value
    return merged


def expand(text: str, environ: Mapping[str, str]) -> str:
    """``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset), ``$$`` -> ``$``.

    A ``$`` followed by anything else is kept as it is, so ``$HOME`` in a
    ``sh -c`` command still reaches the shell. Raises :class:`ExpandError`
    naming the variable when it is unset and has no default.
    """
    if "$" not in text:
        return text
    out: list[str] = []
    i, size = 0, len(text)
    while i < size:
        char = text[i]
        if char != "$" or i + 1 >= size or text[i + 1] not in "${":
            out.append(char)
            i += 1
            continue
        if text[i + 1] == "$":
            out.append("$")
            i += 2
            continue
        end = text.find("}", i + 2)
        if end < 0:
            raise ExpandError(f"unclosed '${{' in {text!r}")
        out.append(_substitute(text[i + 2 : end], environ))
        i = end + 1
    return "".join(out)


def _substitute(body: str, environ: Mapping[str, str]) -> str:
    name, default, when_empty = body, None, False
    for separator in (":-", "-"):
        if separator in body:
            name, _, default = body.partition(separator)
            when_empty = separator == ":-"
            break
    if not name or not (name[0].isalpha() or name[0] == "_") or not all(c.isalnum() or c == "_" for c in name):
        raise ExpandError(f"invalid variable reference '${{{body}}}'")
    value = environ.get(name)
    if value is None or (when_empty and value == ""):
        if default is None:
            raise ExpandError(f"variable {name} is not set (give a default: ${{{name}:-VALUE}})", name)
        return expand(default, environ)
    return value


def expand_service(table: dict[str, Any], environ: Mapping[str, str]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A service's table with its ``env_file`` values merged under ``env`` and ``${VAR}`` expanded
    in ``env_file`` paths, ``command``, ``env`` values and ``cwd``; plus ``(key, message)`` problems.

    ``env_file`` paths expand from pyinit's environment; the rest from that plus the files'
    values. A string ``command`` is split into words first, so a value with spaces stays one
    word. Values of the wrong type are left for the converters to report.
    """
    table = dict(table)
    problems: list[tuple[str, str]] = []
    file_env: dict[str, str] = {}
    given = table.get("env_file")
    if given is not None:
        paths = [given] if isinstance(given, str) else given
        if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
            problems.append(("env_file", "expected a path or a list of paths"))
        else:
            try:
                paths = [expand(path, environ) for path in paths]
                file_env = read_env_files(paths, environ)
            except ValueError as exc:
                problems.append(("env_file", str(exc)))
            table["env_file"] = paths
    scope = {**environ, **file_env}
    command = table.get("command")
    if isinstance(command, str):
        import shlex

        try:
            command = shlex.split(command)
        except ValueError:
            command = None  # the converter reports it
    if isinstance(command, list) and all(isinstance(word, str) for word in command):
        try:
            table["command"] = [expand(word, scope) for word in command]
        except ExpandError as exc:
            problems.append(("command", str(exc)))
    env = table.get("env", {})
    if isinstance(env, dict):
        try:
            expanded = {key: expand(value, scope) if isinstance(value, str) else value for key, value in env.items()}
        except ExpandError as exc:
            problems.append(("env", str(exc)))
        else:
            table["env"] = {**file_env, **expanded}
    if isinstance(table.get("cwd"), str):
        try:
            table["cwd"] = expand(table["cwd"], scope)
        except ExpandError as exc:
            problems.append(("cwd", str(exc)))
    return table, problems
