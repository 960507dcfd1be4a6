"""The loader's cost is bounded: only regular files are read, never more than the size cap, and
composing stops at the node and depth caps. Worst-case files at the caps are refused or
accepted, each refusal at its file:line:col."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import screening
from screening import yamlsafe
from screening.linting import lint_file
from screening.loading import check_file
from screening.yamlsafe import MAX_BYTES, MAX_DEPTH, MAX_NODES, parse_yaml, read_yaml

from .conftest import DEFINITIONS, ROOT

GOOD = (DEFINITIONS / "good.yaml").read_text()
LINT_SECONDS = 10.0
"""Generous: these files lint in well under 2 s on a shared 2-core machine."""


def located(issues: Any) -> list[tuple[str, int | None, int | None]]:
    return [(i.code, i.line, i.col) for i in issues]


# --- what is read, and how much -----------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
def test_a_fifo_is_refused_without_opening_it(tmp_path: Path) -> None:
    # reading one blocked for ever, waiting for a writer; the CLI runs in a child with a timeout
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    done = subprocess.run(
        [sys.executable, "-m", "screening.cli", "validate", str(fifo)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stdout == (
        f"{fifo}:1:1: error: not_a_file: not a regular file (a FIFO); a definition is a YAML file\n"
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero here")
def test_a_device_is_refused_before_reading() -> None:
    # /dev/zero was read whole: memory ran out
    issues = lint_file(Path("/dev/zero"))
    assert located(issues) == [("not_a_file", 1, 1)]
    assert "(a character device)" in issues[0].message
    with pytest.raises(screening.DefinitionError, match="not_a_file"):
        screening.load_instrument("/dev/zero")


def test_a_directory_named_like_a_definition_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "folder.yaml"
    folder.mkdir()
    issues = lint_file(folder)
    assert located(issues) == [("not_a_file", 1, 1)]
    assert "(a directory)" in issues[0].message


def test_a_huge_file_is_refused_from_its_size_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.yaml"
    with path.open("wb") as sparse:
        sparse.truncate(10**12)  # a terabyte, sparse: reading it would never finish
    issues = lint_file(path)
    assert located(issues) == [("file_too_large", 1, 1)]
    assert issues[0].message == f"file is {10**12} bytes; the limit is {MAX_BYTES} bytes"


def test_no_more_than_the_cap_is_read_whatever_the_size_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "grows.yaml"
    path.write_text("a: " + "x" * (3 * MAX_BYTES) + "\n")
    real_stat = os.stat

    def small(target: Any, *args: Any, **kwargs: Any) -> Any:
        found = real_stat(target, *args, **kwargs)
        if str(target) != str(path):
            return found
        fields = list(found)
        fields[6] = 10  # st_size, as a file that grows after the check (or /proc) reports it
        return os.stat_result(fields)

    reads: list[int] = []
    real_read = yamlsafe.parse_yaml

    def parse(text: str | bytes, file: str | None = None) -> yamlsafe.ParsedYaml:
        reads.append(len(text))
        return real_read(text, file)

    monkeypatch.setattr("screening.yamlsafe.os.stat", small)
    monkeypatch.setattr(yamlsafe, "parse_yaml", parse)
    parsed = read_yaml(path)
    assert located(parsed.issues) == [("file_too_large", 1, 1)]
    assert parsed.issues[0].message == (
        f"file is more than {MAX_BYTES} bytes; the limit is {MAX_BYTES} bytes"
    )
    assert reads == []  # refused from the bytes read, never parsed


def test_a_missing_file_is_an_io_error_with_a_position(tmp_path: Path) -> None:
    assert located(lint_file(tmp_path / "nope.yaml")) == [("io_error", 1, 1)]
    with pytest.raises(FileNotFoundError):
        screening.load_instrument(tmp_path / "nope.yaml")


def test_a_file_at_the_size_cap_is_read(tmp_path: Path) -> None:
    path = tmp_path / "long.yaml"
    text = "a: " + "x" * (MAX_BYTES - 4) + "\n"
    path.write_text(text)
    assert path.stat().st_size == MAX_BYTES
    parsed = read_yaml(path)
    assert parsed.issues == []
    assert parsed.data == {"a": "x" * (MAX_BYTES - 4)}


def test_the_size_cap_leaves_room_for_the_largest_built_in() -> None:
    largest = max(p.stat().st_size for p in (ROOT / "instruments").glob("*.yaml"))
    assert 4 * largest <= MAX_BYTES


def test_the_node_cap_leaves_room_for_the_largest_built_in() -> None:
    def nodes(value: Any) -> int:
        if isinstance(value, dict):
            return 1 + sum(1 + nodes(v) for v in value.values())
        if isinstance(value, list):
            return 1 + sum(nodes(v) for v in value)
        return 1

    largest = max(nodes(read_yaml(p).data) for p in sorted((ROOT / "instruments").glob("*.yaml")))
    assert 5 * largest <= MAX_NODES


# --- the node and depth caps --------------------------------------------------------------


def flat_list(count: int) -> str:
    """A mapping, a key, a list and `count` scalars: `count` + 3 nodes."""
    return "a: [" + ",".join(["1"] * count) + "]\n"


def test_a_document_of_max_nodes_is_accepted() -> None:
    parsed = parse_yaml(flat_list(MAX_NODES - 3), "x.yaml")
    assert parsed.issues == []
    assert len(parsed.data["a"]) == MAX_NODES - 3


def test_the_node_past_the_cap_is_refused_at_its_position() -> None:
    parsed = parse_yaml(flat_list(MAX_NODES - 2), "x.yaml")
    last = 5 + 2 * (MAX_NODES - 3)  # column of the last scalar
    assert located(parsed.issues) == [("yaml_nodes", 1, last)]
    assert parsed.issues[0].message == (
        f"more than {MAX_NODES} nodes (each key, value, list and mapping counts); "
        "a definition needs far fewer"
    )


def test_keys_count_as_nodes() -> None:
    pairs = (MAX_NODES - 1) // 2  # the mapping, then a key and a value per pair
    assert parse_yaml("".join(f"k{i}: 1\n" for i in range(pairs)), "x.yaml").issues == []
    refused = parse_yaml("".join(f"k{i}: 1\n" for i in range(pairs + 1)), "x.yaml")
    # the key of the last pair is node MAX_NODES; its value is one too many
    assert located(refused.issues) == [("yaml_nodes", pairs + 1, len(f"k{pairs}: ") + 1)]


def test_aliases_count_as_nodes_and_expand_nothing() -> None:
    text = "a: &x [1, 2]\nb: [" + ", ".join(["*x"] * MAX_NODES) + "]\n"
    assert [i.code for i in parse_yaml(text, "x.yaml").issues] == ["yaml_nodes"]


# --- worst cases at the caps, through lint_file -------------------------------------------

HEAD = (
    'format_version: "1.0"\nid: worst\nname: W\ndefinition_version: 1.0.0\nconstruct: c\n'
    "license: {status: public-domain, holder: N, notice: F., redistribute_text: true}\n"
    "sources: {s: S}\noption_sets:\n  f: [{value: 0, label: a}, {value: 1, label: b}]\n"
)


def deep_flow_chains() -> str:
    """Chains of lists nested to the depth cap, one per key: the scanner's costliest shape."""
    per = MAX_DEPTH + 1  # the key, the lists, the scalar
    chain = "[" * (MAX_DEPTH - 1) + "1" + "]" * (MAX_DEPTH - 1)
    return "".join(f"k{i}: {chain}\n" for i in range((MAX_NODES - 1) // per))


def deep_block_chains() -> str:
    """Mappings nested by indentation to the depth cap, as many as the size cap allows."""
    chains: list[str] = []
    size = 0
    while True:
        lines = [f"{' ' * d}k{len(chains)}_{d}:\n" for d in range(MAX_DEPTH - 1)]
        chain = "".join(lines) + f"{' ' * (MAX_DEPTH - 1)}v: 1\n"
        if size + len(chain) > MAX_BYTES:
            return "".join(chains)
        chains.append(chain)
        size += len(chain)


def many_unknown_keys() -> str:
    """An unknown key, and its did-you-mean, on every line."""
    return "".join(f"k{i}: 1\n" for i in range((MAX_NODES - 1) // 2))


def many_bad_items() -> str:
    """A missing key and an unknown key in every item."""
    count = (MAX_NODES - 60) // 9
    return (
        HEAD
        + "items:\n"
        + "".join(f"  - {{id: i{i}, lable: l, options: f, xx: 1}}\n" for i in range(count))
    )


def valid_many_items() -> str:
    count = (MAX_NODES - 80) // 8
    items = "".join(f"  - {{id: i{i}, label: l, options: f}}\n" for i in range(count))
    listed = ", ".join(f"i{i}" for i in range(count))
    return HEAD + "items:\n" + items + f"scales:\n  t:\n    source: s\n    items: [{listed}]\n"


def valid_many_cases() -> str:
    """A flag with a long condition and many golden cases, each evaluating it."""
    items = "items:\n" + "".join(f"  - {{id: i{i}, label: l, options: f}}\n" for i in range(3))
    scale = "scales:\n  t:\n    source: s\n    items: [i0, i1, i2]\n"
    conditions = "".join(f"        - {{item: i{i % 3}, gte: 1}}\n" for i in range(900))
    flag = (
        "flags:\n  - id: r\n    severity: info\n    message: M\n    source: s\n"
        "    when:\n      any:\n" + conditions
    )
    case = "{{name: c{0}, source: s, responses: [0, 1, 0], expect: {{valid: true, flags: [r]}}}}"
    cases = "cases:\n" + "".join(f"  - {case.format(j)}\n" for j in range(300))
    return HEAD + items + scale + flag + cases


def long_text() -> str:
    return "description: " + "word " * ((MAX_BYTES - 20) // 5) + "\n"


WORST: dict[str, Callable[[], str]] = {
    "deep_flow_chains": deep_flow_chains,
    "deep_block_chains": deep_block_chains,
    "many_unknown_keys": many_unknown_keys,
    "many_bad_items": many_bad_items,
    "valid_many_items": valid_many_items,
    "valid_many_cases": valid_many_cases,
    "long_text": long_text,
}


@pytest.mark.parametrize("name", WORST)
def test_worst_cases_at_the_caps_are_parsed_and_checked_in_bounded_time(
    name: str, tmp_path: Path
) -> None:
    text = WORST[name]()
    assert len(text.encode()) <= MAX_BYTES
    path = tmp_path / "worst.yaml"
    path.write_text(text)
    started = time.perf_counter()
    issues = lint_file(path)
    seconds = time.perf_counter() - started
    assert not [i for i in issues if i.code.startswith("yaml_") or i.code == "file_too_large"]
    assert all(i.line is not None and i.col is not None for i in issues)
    if name.startswith("valid"):
        assert issues == []
    assert seconds < LINT_SECONDS


def test_every_unknown_key_of_the_worst_case_is_reported() -> None:
    _, issues, _ = screening.loading.check_parsed(many_unknown_keys(), "x.yaml")
    unknown = [i for i in issues if i.code == "unknown_key"]
    assert len(unknown) == (MAX_NODES - 1) // 2
    assert unknown[0].message == "k0: unknown key 'k0'"
    assert (unknown[-1].line, unknown[-1].col) == ((MAX_NODES - 1) // 2, 1)


@pytest.mark.parametrize(
    "text",
    [
        flat_list(MAX_NODES),
        "".join(f"k{i}: 1\n" for i in range(MAX_NODES)),
        "a: " + "[" * (MAX_BYTES // 2 - 4) + "]" * (MAX_BYTES // 2 - 4) + "\n",
        "a: [" + ", ".join(["{k: 1}"] * (MAX_NODES // 3)) + "]\n",
    ],
    ids=["flat_list", "many_keys", "deep_flow", "many_mappings"],
)
def test_worst_cases_past_the_caps_are_refused_early(text: str, tmp_path: Path) -> None:
    assert len(text.encode()) <= MAX_BYTES
    path = tmp_path / "worst.yaml"
    path.write_text(text)
    started = time.perf_counter()
    inst, issues, _ = check_file(path)
    seconds = time.perf_counter() - started
    assert inst is None
    assert [i.code for i in issues] in (["yaml_nodes"], ["yaml_depth"])
    assert issues[0].line is not None
    assert issues[0].col is not None
    assert seconds < LINT_SECONDS


def test_validate_reports_a_bad_scalar_at_its_line_without_a_traceback(tmp_path: Path) -> None:
    # `screening validate` printed a KeyError traceback and exited 1
    path = tmp_path / "bad.yaml"
    path.write_text(GOOD.replace("redistribute_text: true", "redistribute_text: !!bool maybe"))
    done = subprocess.run(
        [sys.executable, "-m", "screening.cli", "validate", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stdout == (
        f"{path}:6:91: error: yaml_value: 'maybe' is not a boolean (write true or false)\n"
    )
