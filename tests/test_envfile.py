"""env_file parsing (the docker --env-file format) and ${VAR} expansion."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyinit.services.envfile import ExpandError, expand, parse_env_file, read_env_files

pytestmark = pytest.mark.timeout(10)


def test_env_file_values_and_comments() -> None:
    text = "# a comment\n\nA=1\nC='quoted'\nD=x=y\nE=\n  F=indented\n"
    assert parse_env_file(text, "f") == {"A": "1", "C": "'quoted'", "D": "x=y", "E": "", "F": "indented"}


@pytest.mark.parametrize("line", ["B =x", "two words=1", "=value"])
def test_a_malformed_line_names_its_number(line: str) -> None:
    with pytest.raises(ValueError, match=r"^f:2: expected KEY=VALUE"):
        parse_env_file(f"A=1\n{line}\n", "f")


def test_files_merge_in_order_and_dash_means_optional(tmp_path: Path) -> None:
    first, second = tmp_path / "a.env", tmp_path / "b.env"
    first.write_text("A=1\nB=1\nFROM_ENV\nNOT_SET\n")
    second.write_text("B=2\n")
    merged = read_env_files([str(first), str(second), f"-{tmp_path}/missing.env"], {"FROM_ENV": "outside"})
    assert merged == {"A": "1", "B": "2", "FROM_ENV": "outside"}


def test_a_missing_file_is_an_error_unless_optional(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no such file"):
        read_env_files([str(tmp_path / "missing.env")], {})


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("plain", "plain"),
        ("${A}", "a"),
        ("x${A}y${B}z", "xaybz"),
        ("${EMPTY:-d}", "d"),
        ("${EMPTY-d}", ""),
        ("${UNSET-d}", "d"),
        ("${UNSET:-}", ""),
        ("${A:-d}", "a"),
        ("$$", "$"),
        ("$${A}", "${A}"),
        ("cost $5 and $HOME", "cost $5 and $HOME"),
        ("trailing $", "trailing $"),
    ],
)
def test_expansion(text: str, expected: str) -> None:
    assert expand(text, {"A": "a", "B": "b", "EMPTY": ""}) == expected


def test_an_unset_variable_is_named() -> None:
    with pytest.raises(ExpandError, match=r"variable PORT is not set") as caught:
        expand("--port=${PORT}", {})
    assert caught.value.variable == "PORT"


@pytest.mark.parametrize("text", ["${A", "${}", "${1A}", "${A B}"])
def test_malformed_references_are_errors(text: str) -> None:
    with pytest.raises(ExpandError):
        expand(text, {"A": "a"})
