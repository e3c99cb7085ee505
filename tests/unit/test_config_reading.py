"""exporter.config.reading: the strict YAML reader shared by the config and the web config."""

from __future__ import annotations

import pytest

from exporter.config.reading import (
    MAX_ALIAS_VALUES,
    MAX_DEPTH,
    MAX_VALUES,
    Duplicate,
    YamlError,
    read_yaml,
)


def refused(text: str, **kwargs: str) -> YamlError:
    with pytest.raises(YamlError) as caught:
        read_yaml(text, **kwargs)
    return caught.value


def test_reads_data_and_the_line_of_every_key_and_list_item() -> None:
    document = read_yaml(
        "regions: [us-east-1,\n  eu-west-1]\naccounts:\n  - name: payer\n  - name: prod\n"
    )
    assert document.data == {
        "regions": ["us-east-1", "eu-west-1"],
        "accounts": [{"name": "payer"}, {"name": "prod"}],
    }
    assert document.lines == {
        ("regions",): 1,
        ("regions", 0): 1,
        ("regions", 1): 2,
        ("accounts",): 3,
        ("accounts", 0): 4,
        ("accounts", 0, "name"): 4,
        ("accounts", 1): 5,
        ("accounts", 1, "name"): 5,
    }
    assert document.duplicates == ()


@pytest.mark.parametrize("text", ["", "# only a comment\n", "---\n"])
def test_an_empty_document_is_none(text: str) -> None:
    document = read_yaml(text)
    assert document.data is None
    assert document.lines == {}


def test_a_key_yaml_reads_as_a_value_is_indexed_as_written_and_as_read() -> None:
    document = read_yaml("defaults:\n  yes: 1\n  2: b\n")
    assert document.data == {"defaults": {True: 1, 2: "b"}}
    assert document.lines[("defaults", "yes")] == 2
    assert document.lines[("defaults", True)] == 2
    assert document.lines[("defaults", 2)] == 3


def test_duplicate_keys_are_listed_in_file_order_with_both_lines() -> None:
    document = read_yaml("a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert document.duplicates == (Duplicate(("b", "c"), 4, 3), Duplicate(("a",), 5, 1))
    assert document.lines[("a",)] == 1  # the first one's line


def test_keys_brought_in_by_a_merge_are_not_duplicates() -> None:
    document = read_yaml("base: &b {x: 1}\nother:\n  <<: *b\n  x: 2\n")
    assert document.duplicates == ()
    assert document.data["other"] == {"x": 2}


def test_a_recursive_alias_is_read_without_walking_it_forever() -> None:
    document = read_yaml("a: &a [1, *a]\n")
    assert document.data["a"][1] is document.data["a"]


def test_small_aliases_are_read() -> None:
    document = read_yaml("r: &r [us-east-1, eu-west-1]\ns: *r\n")
    assert document.data == {"r": ["us-east-1", "eu-west-1"], "s": ["us-east-1", "eu-west-1"]}


def test_aliases_of_aliases_are_refused_where_they_cross_the_bound() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    error = refused("\n".join(lines) + "\n")
    assert (error.line, error.column) == (5, 25)  # the fourth *a3 on a4's line
    assert str(error).startswith(
        f"refused: with alias *a3 the aliases in this file expand to more than "
        f"{MAX_ALIAS_VALUES} values"
    )
    assert error.problem == str(error)


def test_too_many_values_are_refused_with_the_callers_advice() -> None:
    text = "x: [" + ",".join(["1"] * (MAX_VALUES + 1)) + "]\n"
    error = refused(text, many_values_advice="split it")
    assert str(error).endswith("check that this is the config file, and split it")
    assert str(refused(text)).endswith("check that this is the config file")


def test_nesting_past_the_bound_is_refused() -> None:
    error = refused("x: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n")
    assert (error.line, error.column) == (1, MAX_DEPTH + 3)
    assert str(error).startswith(f"refused: nested more than {MAX_DEPTH} levels deep")


def test_a_raw_control_character_is_named_escaped_where_it_is() -> None:
    error = refused("a: 1\nb: x\x1by\n")
    assert (error.line, error.column) == (2, 5)
    assert error.problem == "unprintable character \\x1b is not allowed in a YAML file; remove it"
    assert str(error) == f"YAML error: {error.problem}"


def test_a_syntax_error_keeps_pyyaml_s_problem_and_adds_advice() -> None:
    error = refused("a:\n\tb: 1\n")
    assert (error.line, error.column) == (2, 1)
    assert error.problem == "found character '\\t' that cannot start any token"
    assert str(error) == (
        "YAML syntax error: found character '\\t' that cannot start any token; indent with "
        "spaces, not tabs (while scanning for the next token)"
    )


def test_an_unhashable_key_and_a_second_document_are_yaml_errors() -> None:
    unhashable = refused("a:\n  ? [x, y]\n  : 1\n")
    assert (unhashable.line, unhashable.problem) == (2, "found unhashable key")
    second = refused("a: 1\n---\nb: 2\n")
    assert (second.line, second.column, second.problem) == (2, 1, "but found another document")


def test_no_python_objects_are_built() -> None:
    error = refused("a: !!python/object/apply:os.system ['true']\n")
    assert "could not determine a constructor" in error.problem
