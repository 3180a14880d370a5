"""Reading the user's YAML and text files: each bad file is one InputError."""

import time

import pytest

from harness.errors import InputError
from harness.yamlfile import MAX_INPUT_BYTES, load_yaml, read_text_input


def write(tmp_path, text, name="in.yaml"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def error_of(path, name=""):
    with pytest.raises(InputError) as err:
        load_yaml(path, name)
    return str(err.value)


def test_plain_yaml_still_loads(tmp_path):
    path = write(tmp_path, "a: {b: [1, 2, {c: d}]}\ne: [x, y]\n")
    assert load_yaml(path) == {"a": {"b": [1, 2, {"c": "d"}]}, "e": ["x", "y"]}
    assert load_yaml(write(tmp_path, "")) is None


def test_duplicate_key_names_key_and_both_lines(tmp_path):
    path = write(tmp_path, "name: a\nnodes: []\nname: b\n")
    assert error_of(path, "s.yaml") == "s.yaml line 3: name: duplicate key (first at line 1)"


def test_duplicate_key_in_nested_mapping(tmp_path):
    path = write(tmp_path, "nodes:\n  - {id: 0}\n  - {id: 0, id: 1}\n")
    assert "line 3: nodes[1].id: duplicate key (first at line 3)" in error_of(path)
    path = write(tmp_path, "sample:\n  duration: 40s\n  duration: 30s\n")
    assert "line 3: sample.duration: duplicate key (first at line 2)" in error_of(path)


def test_equal_text_of_different_types_is_not_a_duplicate(tmp_path):
    assert load_yaml(write(tmp_path, "1: a\n'1': b\n")) == {1: "a", "1": "b"}


@pytest.mark.parametrize("text", ["a: &x [1]\nb: 2\n", "a: 1\nb: *x\n"])
def test_anchors_and_aliases_are_refused(tmp_path, text):
    message = error_of(write(tmp_path, text))
    assert "aliases" in message and " line " in message


def test_alias_bomb_is_refused_at_once(tmp_path):
    levels = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, 10):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 9) + "]")
    started = time.monotonic()
    assert "line 1: anchors" in error_of(write(tmp_path, "\n".join(levels) + "\n"))
    assert time.monotonic() - started < 1


@pytest.mark.parametrize("text", ["[" * 5000 + "]" * 5000,
                                  "".join(" " * i + "-\n" for i in range(200))])
def test_deep_nesting_is_refused(tmp_path, text):
    assert "nested more than 50 levels" in error_of(write(tmp_path, text))


def test_malformed_yaml_keeps_line_and_gives_problem(tmp_path):
    message = error_of(write(tmp_path, "nodes: [\n  - id: 0\n"), "t.yaml")
    assert message.startswith("t.yaml line 2: malformed YAML (") and len(message) < 200


def test_control_character_is_malformed_with_its_line(tmp_path):
    assert "line 2: malformed YAML" in error_of(write(tmp_path, "a: 1\nb: \x00\n"))


@pytest.mark.parametrize("data", [b"\x7fELF\x02\x01\x01\x00\xff\xfe",
                                  "a: caf\xe9\n".encode("latin-1")])
def test_binary_and_latin1_are_not_utf8(tmp_path, data):
    assert error_of(write(tmp_path, data), "s.yaml").startswith("s.yaml: not UTF-8 text (byte ")


def test_directory_missing_and_oversized_files(tmp_path):
    assert error_of(tmp_path) == f"{tmp_path}: is a directory, not a file"
    assert error_of(tmp_path / "gone.yaml").endswith("gone.yaml: no such file")
    big = write(tmp_path, "a: " + "x" * MAX_INPUT_BYTES)
    assert "larger than 1M" in error_of(big)


def test_device_is_not_a_regular_file():
    assert "not a regular file" in error_of("/dev/zero")


def test_read_text_input_names_the_caller_and_the_file(tmp_path):
    path = write(tmp_path, b"\xff\xfe", "frag.config")
    with pytest.raises(InputError, match=r"^--config: .*frag.config: not UTF-8 text"):
        read_text_input(path, "--config")
    with pytest.raises(InputError, match=r"^.*frag.config: not UTF-8"):
        read_text_input(path)
    assert read_text_input(write(tmp_path, "CONFIG_A=y\n", "ok.config")) == "CONFIG_A=y\n"
