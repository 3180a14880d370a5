"""InputError stays one short line whatever the input it echoes."""

from harness.errors import MAX_INPUT_ERROR, InputError

CLI_PREFIX = "damon-harness: error: "


def test_short_messages_are_unchanged():
    assert str(InputError("topo.yaml: nodes[0].memory", "not a size: 'x'")) == \
        "topo.yaml: nodes[0].memory: not a size: 'x'"
    assert str(InputError("", "plain")) == "plain"


def test_huge_echoed_value_is_cut_with_an_ellipsis():
    err = InputError("s.yaml: workloads[0].name", f"{'x' * 10000!r} is not a name")
    text = str(err)
    assert len(CLI_PREFIX + text) <= 300 and len(text) == MAX_INPUT_ERROR
    assert text.startswith("s.yaml: workloads[0].name: 'xxx") and text.endswith("...")
    assert err.where == "s.yaml: workloads[0].name" and err.message.endswith("...")


def test_huge_where_keeps_both_ends():
    text = str(InputError("--node mem=" + "9" * 5000 + "G", "expected mem=SIZE"))
    assert len(text) <= MAX_INPUT_ERROR
    assert text.startswith("--node mem=999") and "9G: expected mem=SIZE" in text


def test_newlines_never_split_the_line():
    text = str(InputError("f.yaml", "first\nsecond\r\n  third"))
    assert text == "f.yaml: first second third"
