"""A corpus of bad input: every case must be refused the way the CLI promises.

The promise: bad input (a scenario or topology file, a flag, an environment
variable) gets exit status 2 and exactly one line on stderr of at most 300
characters that names the file (or flag, or variable) and the key path, with
no Python traceback, and BEFORE anything boots, builds, downloads or writes
into the cache or the results directory.

Each case is data: an id, the CLI arguments, the files to create, the
environment and the words the error line must contain. `{d}` in any of them
stands for the case's input directory. A word given as a tuple is satisfied
by any one of its alternatives.

The real CLI runs in a subprocess so that exit codes and tracebacks are real.
Its PATH starts with fake `qemu-system-x86_64`, `qemu-img`, `apt-get`,
`debootstrap`, `make`, ... that log their argv and fail: the log must stay
empty. `tar` and `git` are left alone, since listing a tarball or asking git
about a tree is a legitimate way to validate input. The cache
(DAMON_HARNESS_CACHE) starts empty and must stay empty; the results directory
(DAMON_HARNESS_RESULTS) must get no file and no console.log may appear.
"""

import copy
import io
import os
import re
import resource
import shutil
import stat
import subprocess
import sys
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Dict, List, Sequence, Tuple, Union

import pytest
import yaml

from harness.paths import REPO_ROOT

MAX_LINE = 300
TIMEOUT_S = 60
# Address-space limit of the CLI under test: a memory bomb (a CPU range of
# 10^11, an alias bomb being stringified) ends in MemoryError, not in the host
# running out of memory.
MEMORY_LIMIT = 2 << 30

# What the harness must never run for bad input. tar and git are not faked:
# listing a tarball or reading a tree's HEAD is a fair way to validate input.
FAKED = ("qemu-system-x86_64", "qemu-img", "apt-get", "apt-cache", "apt", "debootstrap",
         "dpkg-deb", "make", "gcc", "cc", "ccache", "rsync", "patch", "mkfs.ext4",
         "depmod", "ssh", "ssh-keygen")

Content = Union[str, bytes, Callable[[Path], None]]
Word = Union[str, Tuple[str, ...]]


@dataclass
class Case:
    id: str
    args: List[str]
    files: Dict[str, Content] = field(default_factory=dict)
    env: Dict[str, str] = field(default_factory=dict)
    words: List[Word] = field(default_factory=list)
    # File names that must not appear anywhere (say, a tarball's members).
    unpacked: List[str] = field(default_factory=list)


# ------------------------------------------------------------ valid inputs

# A valid scenario in the shape of tests/scenarios/collapse.yaml plus a
# cgroup, a memcg filter, a goal and a converges check as in
# memcg-convergence.yaml. Every scenario case breaks exactly one thing of it.
BASE = {
    "name": "base",
    "description": "a valid scenario; each bad-input case breaks one thing of it",
    "kernel": "default",
    "topology": "two-node",
    "guest": {"thp": "never", "numa_balancing": 0,
              "cgroups": {"a": {"memory.max": "512M"}}},
    "workloads": {
        "toucher": {"hot": "64MiB", "cold": "64MiB", "phases": "hot:0", "cpus": [0],
                    "cgroup": "a"},
    },
    "damon": {"kdamonds": [{"contexts": [{
        "operations": "vaddr",
        "intervals": {"sample_us": 5000, "aggr_us": 100000, "update_us": 1000000},
        "nr_regions": {"min": 10, "max": 1000},
        "targets": [{"workload": "toucher"}],
        "schemes": [{
            "name": "collapse_hot",
            "action": "collapse",
            "access_pattern": {"sz": ["2MiB", "max"], "nr_accesses": ["10%", "max"],
                               "age": [0, "max"]},
            "quotas": {"bytes": "8MiB", "reset_interval_ms": 1000,
                       "goal_tuner": "temporal",
                       "goals": [{"metric": "node_memcg_used_bp", "value": 1000,
                                  "nid": 0, "cgroup": "a"}]},
            "filters": [{"type": "memcg", "cgroup": "a", "matching": True,
                         "allow": True}],
        }],
    }]}]},
    "sample": {
        "interval": "1s",
        "duration": "40s",
        "metrics": {
            "hot_thp": {"smaps": "toucher.hot"},
            "cold_thp": {"smaps": "toucher.cold"},
            "a_node0": {"memcg_numa": "a", "node": 0},
            "applied": {"damos": "collapse_hot", "field": "sz_applied"},
        },
    },
    "expect": [
        {"name": "hot region becomes huge", "metric": "hot_thp",
         "reaches": {"at_least": "50%", "within": "30s"}},
        {"name": "cold region stays small pages", "metric": "cold_thp",
         "stays": {"at_most": "4MiB"}},
        {"name": "cgroup a converges", "metric": "a_node0",
         "converges": {"target": "1000bp", "tolerance": "15%", "settle": "20s",
                       "samples": 20}},
    ],
    "reference": {
        "source": {"message_id": "20251017212706.183502-1-sj@kernel.org",
                   "list": "linux-mm", "authors": ["SeongJae Park"], "date": "2025-10-17"},
        "setup": "two cgroups with moving hot windows on two nodes",
        "published": {"a-node0": {"value": 2.79, "unit": "GiB", "spread": 0.51,
                                  "samples": 42, "condition": "workload a"},
                      "a-error": {"value": 6.5, "unit": "%"}},
        "mapping": {"a-error": "cgroup a converges: error of the mean"},
        "compare": [{"kind": "points", "of": "a-error", "within": 5}],
    },
}

SCHEME = "damon.kdamonds[0].contexts[0].schemes[0]"
CONTEXT = "damon.kdamonds[0].contexts[0]"
DELETE = object()

TOPOLOGY = {
    "name": "two",
    "nodes": [{"id": 0, "memory": "1G", "cpus": [0]},
              {"id": 1, "memory": "1G", "cpus": [1]}],
    "distances": [[0, 1, 20]],
}


def _steps(path: str) -> List[Union[str, int]]:
    """'expect[0].reaches.at_least' -> ['expect', 0, 'reaches', 'at_least']."""
    steps: List[Union[str, int]] = []
    for part in path.split("."):
        name, *indices = re.split(r"\[(\d+)\]", part)
        if name:
            steps.append(name)
        steps += [int(i) for i in indices if i]
    return steps


def mutated(base: dict, changes: Dict[str, object]) -> dict:
    doc = copy.deepcopy(base)
    for path, value in changes.items():
        *parents, last = _steps(path)
        node = doc
        for step in parents:
            node = node[step]
        if value is DELETE:
            del node[last]
        else:
            node[last] = value
    return doc


def dump(doc) -> str:
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False, width=1000)


BASE_YAML = dump(BASE)


# ---------------------------------------------------------- file builders

def empty_tree(path: Path) -> None:
    """A directory with an empty Makefile and Kconfig: not a kernel tree."""
    path.mkdir()
    (path / "Makefile").write_text("")
    (path / "Kconfig").write_text("")


def plausible_tree(path: Path) -> None:
    """A small tree that looks like a kernel's at first sight."""
    files = {
        "Makefile": "# SPDX-License-Identifier: GPL-2.0\nVERSION = 7\nPATCHLEVEL = 3\n"
                    "SUBLEVEL = 0\nEXTRAVERSION =\nNAME = Fake\n",
        "Kconfig": 'mainmenu "Linux/$(ARCH) $(KERNELVERSION) Kernel Configuration"\n\n'
                   'source "arch/$(SRCARCH)/Kconfig"\nsource "mm/Kconfig"\n',
        "arch/x86/Kconfig": "config X86\n\tdef_bool y\n",
        "arch/x86/Makefile": "",
        "mm/Kconfig": 'source "mm/damon/Kconfig"\n',
        "mm/damon/Kconfig": 'config DAMON\n\tbool "DAMON"\n',
        "scripts/kconfig/Makefile": "",
        "init/main.c": "",
    }
    for rel, text in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)


def git_tree(path: Path) -> None:
    """A plausible tree in git, with two commits on one line and a side branch."""
    tree_with_selftests(path)

    def git(*args):
        subprocess.run(["git", "-C", str(path), "-c", "user.name=t", "-c", "user.email=t@t",
                        *args], check=True, capture_output=True)
    git("init", "-q", "-b", "main")
    git("add", "-A")
    git("commit", "-q", "-m", "base")
    git("tag", "v1")
    (path / "init/main.c").write_text("/* two */\n")
    git("commit", "-q", "-am", "two")
    git("checkout", "-q", "-b", "side", "v1")
    (path / "init/main.c").write_text("/* side */\n")
    git("commit", "-q", "-am", "side")
    git("checkout", "-q", "main")


def tree_with_selftests(path: Path) -> None:
    """A plausible tree with DAMON's selftest Makefile and config."""
    plausible_tree(path)
    damon = path / "tools/testing/selftests/damon"
    damon.mkdir(parents=True)
    (damon / "Makefile").write_text("TEST_PROGS += sysfs.sh\nTEST_PROGS += sysfs.py\n")
    (damon / "config").write_text("CONFIG_DAMON=y\nCONFIG_DAMON_LRU_SORT=y\n")
    kunit = path / "mm/damon/tests"
    kunit.mkdir(parents=True)
    (kunit / "core-kunit.h").write_text(
        "static struct kunit_case damon_test_cases[] = {\n\tKUNIT_CASE(damon_test_a),\n};\n"
        "static struct kunit_suite damon_test_suite = {\n\t.name = \"damon\",\n"
        "\t.test_cases = damon_test_cases,\n};\n")


def fake_bzimage(version: str, config: str = None, meta: dict = None):
    """A file builder: an x86 boot image header saying `version`, with the
    harness's artefact files beside it when given."""
    def make(path: Path) -> None:
        path.mkdir()
        image = bytearray(0x600)
        image[0x202:0x206] = b"HdrS"
        image[0x20E:0x210] = (0x400 - 0x200).to_bytes(2, "little")
        text = f"{version} (someone@somewhere) #1 SMP".encode()
        image[0x400:0x400 + len(text)] = text
        (path / "bzImage").write_bytes(bytes(image))
        if config is not None:
            (path / "config").write_text(config)
        if meta is not None:
            import json
            (path / "metadata.json").write_text(json.dumps(meta))
    return make


def tarball_without_kernel(path: Path) -> None:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in (("notes/README", b"no kernel in here\n"),
                           ("notes/todo.txt", b"nothing\n")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


def cache_with_work_file(path: Path) -> None:
    path.mkdir()
    (path / "work").write_text("a regular file where the cache keeps build trees\n")


def mkdir(path: Path) -> None:
    path.mkdir()


def modules_dir(path: Path) -> None:
    (path / "6.1.0-test" / "kernel").mkdir(parents=True)
    (path / "6.1.0-test" / "modules.order").write_text("")


TEXT_FILE = "this is a text file, not a kernel image\n"
# A patch made for some other tree: its context is nowhere in plausible_tree.
OTHER_TREE_PATCH = ("diff --git a/mm/damon/core.c b/mm/damon/core.c\n--- a/mm/damon/core.c\n"
                    "+++ b/mm/damon/core.c\n@@ -1,2 +1,2 @@\n int a;\n-int b;\n+int c;\n")
# A patch that fits plausible_tree's mm/damon/Kconfig.
TREE_PATCH = ("diff --git a/mm/damon/Kconfig b/mm/damon/Kconfig\n--- a/mm/damon/Kconfig\n"
              "+++ b/mm/damon/Kconfig\n@@ -1,2 +1,2 @@\n config DAMON\n-\tbool \"DAMON\"\n"
              "+\tbool \"DAMON!\"\n")
EMPTY_MBOX = "From nobody Mon Sep 17 00:00:00 2001\n\n"
NO_DIFF = "Some notes about a change.\n\nThey contain no diff at all.\n"
NON_UTF8 = b"name: \xff\xfe\xfa\x80 bad\nnodes:\n  - {id: 0, memory: 1G, cpus: [0]}\n"
BINARY = bytes(range(256)) * 8


def alias_bomb() -> str:
    """Billion laughs, 9 levels of 10 aliases each, as the description."""
    levels = ["&l1 [" + ", ".join(["lol"] * 10) + "]"]
    for level in range(2, 10):
        levels.append(f"&l{level} [" + ", ".join([f"*l{level - 1}"] * 10) + "]")
    return _with_description("[" + ", ".join(levels) + "]")


def deep_nesting(depth: int = 5000) -> str:
    return _with_description("[" * depth + "]" * depth)


def _with_description(yaml_value: str) -> str:
    old = f"description: {BASE['description']}\n"
    assert old in BASE_YAML
    return BASE_YAML.replace(old, f"description: {yaml_value}\n", 1)


def duplicate_key() -> str:
    text = BASE_YAML.replace("  duration: 40s\n", "  duration: 40s\n  duration: 30s\n", 1)
    assert text != BASE_YAML
    return text


def two_hundred_nodes() -> str:
    nodes = [{"id": i, "memory": "128M", "cpus": [0] if i == 0 else []}
             for i in range(200)]
    return dump({"name": "many", "nodes": nodes})


# -------------------------------------------------------------- case makers

def scenario(case_id: str, changes: Dict[str, object], key: Word = None,
             files: Dict[str, Content] = None, env: Dict[str, str] = None) -> Case:
    """`run bad.yaml` where bad.yaml is the base with `changes` applied; the
    line must name bad.yaml and the key path (default: the changed path)."""
    key = key if key is not None else next(iter(changes))
    text = dump(mutated(BASE, changes))
    return Case(case_id, ["run", "{d}/bad.yaml"], {"bad.yaml": text, **(files or {})},
                env or {}, ["bad.yaml", key])


def scenario_text(case_id: str, text: Union[str, bytes], words: Sequence[Word]) -> Case:
    return Case(case_id, ["run", "{d}/bad.yaml"], {"bad.yaml": text}, {},
                ["bad.yaml", *words])


def topology(case_id: str, doc, words: Sequence[Word], env: Dict[str, str] = None) -> Case:
    text = doc if isinstance(doc, (str, bytes)) else dump(doc)
    return Case(case_id, ["boot", "{d}/topo.yaml"], {"topo.yaml": text}, env or {},
                ["topo.yaml", *words])


def build(case_id: str, args: List[str], files: Dict[str, Content], words: List[Word],
          env: Dict[str, str] = None) -> Case:
    return Case(case_id, ["build", "--config-only", *args], files, env or {}, words)


def inline_topology(path: str) -> Tuple[str, str]:
    """How a key inside an inline topology may be written in a message."""
    return (f"topology.{path}", f"topology: {path}")


GOOD = {"good.yaml": BASE_YAML}
CAPTURED_RUN = Path(__file__).resolve().parent.parent / "data" / "runs" / "collapse"

CASES: List[Case] = [
    # -------------------------------------------- scenarios: a list for a name
    scenario("expect-metric-list", {"expect[0].metric": ["hot_thp"]}),
    scenario("expect-metric-mapping", {"expect[0].metric": {"hot_thp": 1}}),
    scenario("workload-cgroup-list", {"workloads.toucher.cgroup": ["a"]}),
    scenario("metric-damos-list", {"sample.metrics.applied.damos": ["collapse_hot"]}),
    scenario("metric-memcg-numa-list", {"sample.metrics.a_node0.memcg_numa": ["a"]}),
    scenario("target-workload-list", {f"{CONTEXT}.targets[0].workload": ["toucher"]}),
    scenario("goal-cgroup-list", {f"{SCHEME}.quotas.goals[0].cgroup": ["a"]}),
    scenario("filter-cgroup-list", {f"{SCHEME}.filters[0].cgroup": ["a"]}),
    # ----------------------------------------------- scenarios: broken YAML
    scenario_text("binary-file", BINARY, []),
    scenario_text("non-utf8-file", BASE_YAML.encode().replace(
        b"a valid scenario", b"a valid \xff\xfe scenario"), []),
    scenario_text("nested-5000-deep", deep_nesting(), []),
    scenario_text("alias-bomb", alias_bomb(), []),
    scenario_text("duplicate-key", duplicate_key(), ["sample.duration"]),
    # ------------------------------------------------- scenarios: numbers
    scenario("duration-inf", {"sample.duration": float("inf")}),
    scenario("duration-nan", {"sample.duration": float("nan")}),
    scenario("interval-zero", {"sample.interval": "0s"}, key="interval"),
    scenario("size-negative", {"workloads.toucher.hot": "-64MiB"}),
    scenario("size-zero", {"workloads.toucher.hot": 0}),
    scenario("size-over-u64", {"workloads.toucher.hot": "99999999999999999999T"}),
    scenario("quota-bytes-over-u64",
             {f"{SCHEME}.quotas.bytes": "99999999999999999999T"}),
    scenario("stride-zero", {"workloads.toucher.stride": 0}),
    scenario("rate-inf", {"workloads.toucher.rate": float("inf")}),
    scenario("rate-nan", {"workloads.toucher.rate": float("nan")}),
    scenario("tlb-flush-nan", {"workloads.toucher.tlb_flush_ms": float("nan")}),
    scenario("figure-unknown-metric", {"figures": [{"name": "x", "metric": "nosuch",
                                                    "better": "higher"}]},
             "figures[0].metric"),
    scenario("figure-unknown-take", {"figures": [{"name": "x", "metric": "hot_thp",
                                                  "take": "median", "better": "higher"}]},
             "figures[0].take"),
    scenario("figure-without-better", {"figures": [{"name": "x", "metric": "hot_thp"}]},
             "figures[0]"),
    scenario("figure-name-twice", {"figures": [
        {"name": "x", "metric": "hot_thp", "better": "higher"},
        {"name": "x", "metric": "hot_thp", "better": "lower"}]}, "figures[1].name"),
    scenario("figure-after-past-the-end", {"figures": [
        {"name": "x", "metric": "hot_thp", "after": "1h", "better": "higher"}]},
        "figures[0].after"),
    scenario("pattern-phase-of-unknown-region", {
        "workloads.toucher.hot": DELETE, "workloads.toucher.cold": DELETE,
        "workloads.toucher.regions": {"hot": "8MiB", "cold": "8MiB"},
        "workloads.toucher.phases": [{"name": "p", "seconds": "1s", "access": {"warm": 1}}]},
        "workloads.toucher.phases[0].access.warm"),
    scenario("pattern-regions-and-hot", {"workloads.toucher.regions": {"a": "8MiB"}},
             "workloads.toucher.hot"),
    scenario("pattern-regions-without-phases", {
        "workloads.toucher.hot": DELETE, "workloads.toucher.cold": DELETE,
        "workloads.toucher.phases": DELETE,
        "workloads.toucher.regions": {"hot": "8MiB", "cold": "8MiB"}},
        "workloads.toucher.phases"),
    scenario("pattern-phase-weight-negative", {
        "workloads.toucher.hot": DELETE, "workloads.toucher.cold": DELETE,
        "workloads.toucher.regions": {"hot": "8MiB", "cold": "8MiB"},
        "workloads.toucher.phases": [{"name": "p", "seconds": "1s", "access": {"hot": -1}}]},
        "workloads.toucher.phases[0].access.hot"),
    scenario("pattern-loop-without-regions", {"workloads.toucher.loop": True}),
    scenario("pattern-phase-mapping-without-regions",
             {"workloads.toucher.phases": [{"name": "p", "seconds": "1s"}]},
             "workloads.toucher.phases[0]"),
    scenario("pattern-region-name-too-long", {
        "workloads.toucher.hot": DELETE, "workloads.toucher.cold": DELETE,
        "workloads.toucher.regions": {"hot": "8MiB", "cold": "8MiB", "r" * 30: "1MiB"},
        "workloads.toucher.phases": [{"name": "p", "seconds": "1s", "access": {"hot": 1}}]},
        "workloads.toucher.regions"),
    scenario("target-region-not-in-workload",
             {"damon.kdamonds[0].contexts[0].targets[0].regions": ["warm"]},
             "damon.kdamonds[0].contexts[0].targets[0].regions[0]"),
    scenario("reference-without-source", {"reference.source": DELETE},
             ("reference.source", "source")),
    scenario("reference-bad-message-id", {"reference.source.message_id": "not an id"}),
    scenario("reference-bad-date", {"reference.source.date": "17 Oct 2025"}),
    scenario("reference-without-published", {"reference.published": {}}),
    scenario("reference-unknown-unit", {"reference.published.a-error.unit": "furlongs"}),
    scenario("reference-mapping-to-unknown-figure",
             {"reference.mapping.a-error": "cgroup a converges: speed"}),
    scenario("reference-mapping-of-unknown-number",
             {"reference.mapping": {"b-error": "cgroup a converges: error of the mean"}},
             "reference.mapping.b-error"),
    scenario("reference-point-not-a-pair", {"reference.published.a-error.points": [[5]]},
             "reference.published.a-error.points[0]"),
    scenario("reference-point-negative-time",
             {"reference.published.a-error.points": [[-5, 1]]},
             "reference.published.a-error.points[0][0]"),
    scenario("reference-compare-unknown-kind", {"reference.compare[0].kind": "similar"}),
    scenario("reference-compare-unmapped", {"reference.compare[0].of": "a-node0"},
             "reference.compare[0].of"),
    scenario("reference-compare-without-within", {"reference.compare[0].within": DELETE},
             ("reference.compare[0]", "within")),
    scenario("reference-order-of-one", {"reference.compare[0]": {"kind": "order",
                                                                 "of": ["a-error"]}},
             "reference.compare[0].of"),
    scenario("reference-compare-empty-note", {"reference.compare[0].note": ""}),
    scenario("reference-runs-zero", {"reference.runs": 0}),
    scenario("reference-runs-over-100", {"reference.runs": 101}),
    scenario("at-least-150-percent", {"expect[0].reaches.at_least": "150%"}),
    scenario("at-least-minus-10-percent", {"expect[0].reaches.at_least": "-10%"}),
    scenario("at-least-nan", {"expect[0].reaches.at_least": float("nan")}),
    scenario("at-most-nan", {"expect[1].stays.at_most": float("nan")}),
    scenario("nr-accesses-150-percent",
             {f"{SCHEME}.access_pattern.nr_accesses": ["150%", "max"]}),
    scenario("nr-accesses-minus-10-percent",
             {f"{SCHEME}.access_pattern.nr_accesses": ["-10%", "max"]}),
    scenario("age-over-u32",
             {f"{SCHEME}.access_pattern.age": ["99999999999999999999s", "max"]}),
    scenario("goal-value-minus-10-percent",
             {f"{SCHEME}.quotas.goals[0].value": "-10%"}),
    scenario("tolerance-negative", {"expect[2].converges.tolerance": "-5%"}),
    scenario("tolerance-zero", {"expect[2].converges.tolerance": 0}),
    scenario("stays-after-beyond-duration", {"expect[1].stays.after": "100s"}),
    scenario("reaches-within-beyond-duration", {"expect[0].reaches.within": "100s"}),
    # ---------------------------------------------------- scenarios: CPUs
    scenario("cpus-reversed-range", {"workloads.toucher.cpus": "1-0"}),
    scenario("cpus-huge-range", {"workloads.toucher.cpus": "0-99999999999"}),
    scenario("cpu-outside-topology", {"workloads.toucher.cpus": [7]}),
    # ------------------------------------------- scenarios: keys and references
    scenario("unknown-top-level-key", {"colour": "red"}),
    scenario("unknown-deep-key", {f"{SCHEME}.access_pattern.colour": "red"}),
    scenario("unknown-workload-ref", {f"{CONTEXT}.targets[0].workload": "nosuch"}),
    scenario("unknown-cgroup-ref", {"workloads.toucher.cgroup": "nosuch"}),
    scenario("unknown-scheme-ref", {"sample.metrics.applied.damos": "nosuch"}),
    scenario("unknown-metric-ref", {"expect[0].metric": "nosuch"}),
    scenario("missing-sample-duration", {"sample.duration": DELETE}),
    scenario("missing-scheme-action", {f"{SCHEME}.action": DELETE}),
    scenario("inline-topology-asymmetric", {"topology": mutated(TOPOLOGY, {
        "distances": [[0, 1, 20], [1, 0, 30]]})}, key=inline_topology("distances[1]")),
    scenario("inline-topology-memory-not-size", {"topology": mutated(TOPOLOGY, {
        "nodes[1].memory": "lots"})}, key=inline_topology("nodes[1].memory")),
    # ------------------------------------------------ scenarios: the file itself
    Case("scenario-is-directory", ["run", "{d}/adir"], {"adir": mkdir}, {}, ["adir"]),
    Case("scenario-missing", ["run", "{d}/missing.yaml"], {}, {}, ["missing.yaml"]),
    # --------------------------------------------------- scenarios: kernels
    scenario("kernel-build-source-missing",
             {"kernel": {"build": {"source": "/nonexistent"}}},
             key="kernel.build.source"),
    scenario("kernel-build-patches-number", {"kernel": {"build": {"patches": 5}}},
             key="kernel.build.patches"),
    scenario("kernel-build-configs-unknown",
             {"kernel": {"build": {"configs": ["no-such-fragment"]}}},
             key="kernel.build.configs"),
    scenario("kernel-image-missing", {"kernel": {"image": "/nonexistent/bzImage"}},
             key="kernel.image"),
    scenario("kernel-image-text-file", {"kernel": {"image": "{d}/notakernel.txt"}},
             key="kernel.image", files={"notakernel.txt": TEXT_FILE}),
    scenario("kernel-build-patch-empty-file",
             {"kernel": {"build": {"patches": ["{d}/empty.patch"]}}},
             key="kernel.build.patches", files={"empty.patch": ""}),
    scenario("kernel-build-source-empty-tree",
             {"kernel": {"build": {"source": "{d}/emptytree"}}},
             key="kernel.build.source", files={"emptytree": empty_tree}),
    # ------------------------------- a suite: only the second file is bad
    Case("suite-second-has-unknown-key", ["run", "{d}/good.yaml", "{d}/bad.yaml"],
         {**GOOD, "bad.yaml": dump(mutated(BASE, {"sample.colour": 1}))}, {},
         ["bad.yaml", "sample.colour"]),
    Case("suite-second-kernel-missing", ["run", "{d}/good.yaml", "{d}/bad.yaml"],
         {**GOOD, "bad.yaml": dump(mutated(BASE, {
             "kernel": {"image": "/nonexistent/bzImage"}}))}, {},
         ["bad.yaml", "kernel.image"]),
    # ------------------------------------------------------------ topologies
    topology("topology-asymmetric-distances",
             mutated(TOPOLOGY, {"distances": [[0, 1, 20], [1, 0, 30]]}), ["distances[1]"]),
    topology("topology-conflicting-distance",
             mutated(TOPOLOGY, {"distances": [[0, 1, 20], [0, 1, 30]]}), ["distances[1]"]),
    topology("topology-200-nodes", two_hundred_nodes(), ["nodes"],
             env={"DAMON_HARNESS_MAX_GUEST_MEMORY": "1T"}),
    topology("topology-non-utf8", NON_UTF8, []),
    topology("topology-memory-not-size", mutated(TOPOLOGY, {"nodes[0].memory": "lots"}),
             ["nodes[0].memory"]),
    topology("topology-memory-over-u64",
             mutated(TOPOLOGY, {"nodes[0].memory": "99999999999999999999T"}),
             ["nodes[0].memory"], env={"DAMON_HARNESS_MAX_GUEST_MEMORY": "1T"}),
    topology("topology-cpus-reversed-range",
             mutated(TOPOLOGY, {"nodes[1].cpus": "1-0", "nodes[0].cpus": "0-1"}),
             ["nodes[1].cpus"]),
    topology("topology-cpus-huge-range", mutated(TOPOLOGY, {"nodes[1].cpus": "1-99999999999"}),
             ["nodes[1].cpus"]),
    Case("topology-is-directory", ["boot", "{d}/adir"], {"adir": mkdir}, {}, ["adir"]),
    Case("node-flag-cpus-reversed",
         ["boot", "--node", "mem=1G,cpus=0", "--node", "mem=1G,cpus=1-0"], {}, {},
         ["--node"]),
    Case("node-flag-cpus-huge",
         ["boot", "--node", "mem=1G,cpus=0-99999999999"], {}, {}, ["--node"]),
    Case("node-flag-memory-not-size", ["boot", "--node", "mem=lots,cpus=0"], {}, {},
         ["--node"]),
    Case("distance-flag-too-small",
         ["boot", "--node", "mem=1G,cpus=0", "--node", "mem=1G", "--distance", "0-1=5"],
         {}, {}, ["--distance"]),
    Case("distance-flag-asymmetric",
         ["boot", "--node", "mem=1G,cpus=0", "--node", "mem=1G",
          "--distance", "0-1=20", "--distance", "1-0=30"], {}, {}, ["--distance"]),
    # ------------------------------------------------- build inputs (no source)
    build("build-patches-empty-mbox", ["--patches", "{d}/empty.mbox"],
          {"empty.mbox": EMPTY_MBOX}, ["--patches", "empty.mbox"]),
    build("build-patches-no-diff", ["--patches", "{d}/notes.txt"],
          {"notes.txt": NO_DIFF}, ["--patches", "notes.txt"]),
    build("build-patches-missing", ["--patches", "/nonexistent"], {},
          ["--patches", "/nonexistent"]),
    build("build-patches-empty-dir", ["--patches", "{d}/nopatches"],
          {"nopatches": mkdir}, ["--patches", "nopatches"]),
    build("build-config-unknown", ["--config", "no-such-fragment"], {},
          ["--config", "no-such-fragment"]),
    build("build-config-bad-line", ["--config", "+{d}/bad.config"],
          {"bad.config": "CONFIG_DAMON=y\nthis is not a config line\n"}, ["bad.config"]),
    build("build-config-non-utf8", ["--config", "{d}/latin1.config"],
          {"latin1.config": b"# \xe9t\xe9\nCONFIG_DAMON=y\n"}, ["latin1.config"]),
    build("build-source-missing", ["--source", "/nonexistent"], {},
          ["--source", "/nonexistent"]),
    build("build-source-unknown-debian-version", ["--source", "debian:5.10"], {},
          ["--source", "debian:5.10", "debian:6.1"]),
    build("build-source-empty-tree", ["--source", "{d}/emptytree"],
          {"emptytree": empty_tree}, ["--source", "emptytree"]),
    Case("build-source-tarball-without-kernel",
         ["build", "--config-only", "--source", "{d}/nokernel.tar.gz"],
         {"nokernel.tar.gz": tarball_without_kernel}, {}, ["--source", "nokernel.tar.gz"],
         unpacked=["README", "todo.txt"]),
    build("build-source-text-file", ["--source", "{d}/notakernel.txt"],
          {"notakernel.txt": TEXT_FILE}, ["--source", "notakernel.txt"]),
    build("build-jobs-zero", ["--jobs", "0"], {}, ["--jobs"]),
    # ------------------------------------------------------------ compare
    Case("compare-repeat-zero", ["compare", "--patches", "{d}/p.patch", "--repeat", "0"],
         {"p.patch": NO_DIFF}, {}, ["--repeat"]),
    Case("compare-same-sides", ["compare"], {}, {}, ["--patches", "same kernel"]),
    Case("compare-same-patches-both-sides",
         ["compare", "--base-kernel", "{d}/k/bzImage", "--patched-kernel", "{d}/k/bzImage"],
         {"k": fake_bzimage("7.3.0")}, {}, ["same kernel"]),
    Case("compare-threshold-zero", ["compare", "--threshold", "0"], {}, {}, ["--threshold"]),
    Case("compare-patches-no-diff", ["compare", "--patches", "{d}/notes.txt"],
         {"notes.txt": NO_DIFF}, {}, ["--patches", "notes.txt"]),
    Case("compare-base-kernel-text", ["compare", "--base-kernel", "{d}/notakernel.txt"],
         {"notakernel.txt": TEXT_FILE}, {}, ["--base-kernel", "notakernel.txt"]),
    Case("compare-unknown-scenario", ["compare", "--allow-same", "{d}/nosuch.yaml"], {}, {},
         ["nosuch.yaml"]),
    Case("compare-series-for-another-tree",
         ["compare", "--source", "{d}/tree", "--patches", "{d}/other.patch"],
         {"tree": tree_with_selftests, "other.patch": OTHER_TREE_PATCH}, {},
         ["--patches", "applies", "other.patch"]),
    Case("compare-selftests-on-given-kernels",
         ["compare", "--selftests", "--base-kernel", "{d}/k/bzImage", "--patches",
          "{d}/p.patch"], {"k": fake_bzimage("7.3.0"), "p.patch": OTHER_TREE_PATCH}, {},
         ["--selftests", "--base-kernel"]),
    Case("compare-patched-source-missing",
         ["compare", "--patched-source", "/nonexistent"], {}, {},
         ["--patched-source", "/nonexistent"]),
    Case("compare-patched-config-unknown",
         ["compare", "--patched-config", "+nosuchfragment"], {}, {},
         ["--patched-config", "nosuchfragment"]),
    Case("compare-report-only-not-a-comparison", ["compare", "--report-only", "{d}/runs"],
         {"runs": mkdir}, {}, ["--report-only", "compare-inputs.json"]),
    Case("compare-report-only-missing", ["compare", "--report-only", "{d}/nosuch"], {}, {},
         ["--report-only", "nosuch"]),
    Case("compare-report-only-with-patches",
         ["compare", "--report-only", "{d}/runs", "--patches", "{d}/p.patch"],
         {"runs": mkdir, "p.patch": NO_DIFF}, {}, ["--report-only", "--patches"]),
    Case("reproduce-unknown-name", ["reproduce", "nosuch"], {}, {},
         ["reproduce", "nosuch", "hotcold-tiering"]),
    Case("reproduce-report-only-not-a-reproduction", ["reproduce", "--report-only", "{d}/runs"],
         {"runs": mkdir}, {}, ["--report-only", "reproduction.yaml"]),
    Case("reproduce-extends-missing-file", ["reproduce", "{d}/c.yaml"],
         {"c.yaml": dump({"extends": "nosuch.yaml", "name": "c"})}, {},
         ["c.yaml", "extends", "nosuch.yaml"]),
    Case("reproduce-extends-unknown-key", ["reproduce", "{d}/c.yaml"],
         {"c.yaml": dump({"extends": "r.yaml", "overrides": {"guest.nosuch.x": 1}}),
          "r.yaml": BASE_YAML}, {}, ["c.yaml", "overrides", "nosuch"]),
    Case("reproduce-extends-a-chain", ["reproduce", "{d}/c.yaml"],
         {"c.yaml": dump({"extends": "b.yaml"}), "b.yaml": dump({"extends": "r.yaml"}),
          "r.yaml": BASE_YAML}, {}, ["c.yaml", "extends", "b.yaml"]),
    Case("run-jobs-zero", ["run", "collapse", "--jobs", "0"], {}, {}, ["--jobs"]),
    Case("run-kernels-duplicate", ["run", "collapse", "--kernels", "debian:6.1,debian:6.1"],
         {}, {}, ["--kernels", "debian:6.1", "twice"]),
    Case("run-kernels-unknown-debian", ["run", "collapse", "--kernels", "debian:7.3,debian:3.2"],
         {}, {}, ["--kernels", "debian:3.2"]),
    Case("run-kernels-and-kernel", ["run", "collapse", "--kernels", "debian:7.3", "--kernel",
                                    "/nonexistent"], {}, {}, ["--kernels", "--kernel"]),
    Case("run-repeat-zero", ["run", "collapse", "--repeat", "0"], {}, {}, ["--repeat"]),
    Case("compare-jobs-zero", ["compare", "--allow-same", "--jobs", "0"], {}, {}, ["--jobs"]),
    Case("reproduce-jobs-zero", ["reproduce", "--jobs", "0"], {}, {}, ["--jobs"]),
    Case("run-jobs-and-cluster", ["run", "collapse", "--jobs", "2", "--cluster",
                                  "tcp://127.0.0.1:9"], {}, {}, ["--jobs", "--cluster"]),
    Case("run-cluster-unreachable", ["run", "collapse", "--cluster", "tcp://127.0.0.1:9"],
         {}, {}, ["--cluster", "127.0.0.1:9"]),
    Case("run-cluster-not-an-address", ["run", "collapse", "--cluster", "no such host"],
         {}, {}, ["--cluster", "no such host"]),
    Case("run-cluster-ssh-not-a-destination",
         ["run", "collapse", "--cluster", "ssh://lab1,-oProxyCommand=x"], {}, {},
         ["--cluster", "-oProxyCommand=x", "ssh destination"]),
    Case("run-cluster-file-missing", ["run", "collapse", "--cluster", "{d}/lab.yaml"],
         {}, {}, ["lab.yaml"]),
    Case("run-cluster-file-unknown-key", ["run", "collapse", "--cluster", "{d}/lab.yaml"],
         {"lab.yaml": dump({"hosts": {"lab1": 1}, "port": 22})}, {},
         ["lab.yaml", "port", "unknown key"]),
    Case("run-cluster-file-no-hosts", ["run", "collapse", "--cluster", "{d}/lab.yaml"],
         {"lab.yaml": dump({"hosts": {}})}, {}, ["lab.yaml", "hosts", "at least one"]),
    Case("run-cluster-file-zero-vms", ["run", "collapse", "--cluster", "{d}/lab.yaml"],
         {"lab.yaml": dump({"hosts": {"lab1": 0}})}, {}, ["lab.yaml", "hosts.lab1", "0"]),
    Case("run-cluster-file-bad-host", ["run", "collapse", "--cluster", "{d}/lab.yaml"],
         {"lab.yaml": dump({"hosts": {"lab 1": 1}})}, {}, ["lab.yaml", "hosts", "lab 1"]),
    Case("compare-cluster-file-ssh-not-a-list",
         ["compare", "collapse", "--allow-same", "--cluster", "{d}/lab.yaml"],
         {"lab.yaml": dump({"hosts": {"lab1": 1}, "ssh": "-i key"})}, {},
         ["lab.yaml", "ssh", "list"]),
    Case("reproduce-cluster-unreachable",
         ["reproduce", "hotcold-tiering", "--cluster", "tcp://127.0.0.1:9"], {}, {},
         ["--cluster", "127.0.0.1:9"]),
    Case("reproduce-repeat-zero", ["reproduce", "--repeat", "0"], {}, {}, ["--repeat"]),
    Case("reproduce-scenario-without-reference", ["reproduce", "{d}/plain.yaml"],
         {"plain.yaml": dump({k: v for k, v in BASE.items() if k != "reference"})}, {},
         ["plain.yaml", "reference"]),
    Case("reproduce-modules-without-kernel", ["reproduce", "--modules", "{d}"], {}, {},
         ["--modules"]),
    Case("reproduce-condition-of-unknown-key", ["reproduce", "{d}/r.yaml"],
         {"r.yaml": dump({**BASE, "conditions": {"c": {"guest.nosuch.x": 1}}})}, {},
         ["r.yaml", "conditions.c", "nosuch"]),
    Case("reproduce-condition-bad-value", ["reproduce", "{d}/r.yaml"],
         {"r.yaml": dump({**BASE, "conditions": {"c": {"guest.thp": "sometimes"}}})}, {},
         ["r.yaml [c]", "guest.thp"]),
    Case("reproduce-conditions-empty", ["reproduce", "{d}/r.yaml"],
         {"r.yaml": dump({**BASE, "conditions": {}})}, {}, ["r.yaml", "conditions"]),
    Case("reproduce-mapping-without-condition", ["reproduce", "{d}/r.yaml"],
         {"r.yaml": dump({**BASE, "conditions": {"c": {"guest.thp": "madvise"}}})}, {},
         ["r.yaml", "reference.mapping.a-error", "c: cgroup a converges"]),
    Case("run-a-reproduction-with-conditions", ["run", "{d}/r.yaml"],
         {"r.yaml": dump({**BASE, "conditions": {"c": {"guest.thp": "madvise"}}})}, {},
         ["r.yaml", "conditions", "reproduce"]),
    Case("compare-report-only-with-scenario",
         ["compare", "--report-only", "{d}/runs", "collapse"],
         {"runs": mkdir}, {}, ["--report-only", "SCENARIO"]),
    Case("compare-report-only-with-repeat",
         ["compare", "--report-only", "{d}/runs", "--repeat", "3"],
         {"runs": mkdir}, {}, ["--report-only", "--repeat"]),
    # ------------------------------------------------------------ bisect
    Case("bisect-no-criterion", ["bisect", "--patches", "{d}/p.patch"],
         {"p.patch": OTHER_TREE_PATCH}, {}, ["--scenario"]),
    Case("bisect-repeat-zero", ["bisect", "--patches", "{d}/p.patch", "--scenario",
                                "collapse", "--repeat", "0"],
         {"p.patch": OTHER_TREE_PATCH}, {}, ["--repeat"]),
    Case("bisect-series-for-another-tree",
         ["bisect", "--source", "{d}/tree", "--patches", "{d}/other.patch", "--kunit", "x"],
         {"tree": tree_with_selftests, "other.patch": OTHER_TREE_PATCH}, {},
         ["--patches", "applies"]),
    Case("bisect-git-good-not-a-commit",
         ["bisect", "--source", "{d}/tree", "--good", "nosuchrev", "--bad", "main",
          "--kunit", "damos_test_commit_quota"], {"tree": git_tree}, {},
         ["--good", "nosuchrev"]),
    Case("bisect-git-good-not-an-ancestor",
         ["bisect", "--source", "{d}/tree", "--good", "side", "--bad", "main",
          "--kunit", "damos_test_commit_quota"], {"tree": git_tree}, {},
         ["--good", "side", "ancestor"]),
    Case("bisect-git-same-ends",
         ["bisect", "--source", "{d}/tree", "--good", "main", "--bad", "main",
          "--kunit", "damos_test_commit_quota"], {"tree": git_tree}, {}, ["--bad", "same"]),
    Case("bisect-git-without-bad",
         ["bisect", "--source", "{d}/tree", "--good", "v1", "--kunit", "x"],
         {"tree": git_tree}, {}, ["--bad"]),
    Case("bisect-git-not-a-git-tree",
         ["bisect", "--source", "{d}/tree", "--good", "v1", "--bad", "main", "--kunit", "x"],
         {"tree": tree_with_selftests}, {}, ["--source", "git"]),
    Case("bisect-git-and-a-series",
         ["bisect", "--source", "{d}/tree", "--good", "v1", "--bad", "main",
          "--patches", "{d}/p.patch", "--kunit", "x"],
         {"tree": git_tree, "p.patch": OTHER_TREE_PATCH}, {}, ["--patches", "not both"]),
    Case("bisect-git-unknown-kunit-case",
         ["bisect", "--source", "{d}/tree", "--good", "v1", "--bad", "main",
          "--kunit", "no_such_case"], {"tree": git_tree}, {}, ["--kunit", "no_such_case"]),
    Case("bisect-neither-series-nor-range", ["bisect", "--kunit", "x"], {}, {},
         ["--patches"]),
    Case("bisect-unknown-figure",
         ["bisect", "--patches", "{d}/p.patch", "--scenario", "collapse", "--figure",
          "speed", "--worse-than", "3"], {"p.patch": OTHER_TREE_PATCH}, {},
         ["--figure", "speed", "time to reach"]),
    Case("bisect-figure-without-limit",
         ["bisect", "--patches", "{d}/p.patch", "--scenario", "collapse", "--figure",
          "hot region becomes huge: time to reach"], {"p.patch": OTHER_TREE_PATCH}, {},
         ["--worse-than"]),
    Case("bisect-unknown-kunit-case",
         ["bisect", "--source", "{d}/tree", "--patches", "{d}/mm.patch", "--kunit", "nosuch"],
         {"tree": tree_with_selftests, "mm.patch": TREE_PATCH}, {}, ["--kunit", "nosuch"]),
    Case("bisect-unknown-selftest",
         ["bisect", "--source", "{d}/tree", "--patches", "{d}/mm.patch", "--selftest",
          "nosuch.py"],
         {"tree": tree_with_selftests, "mm.patch": TREE_PATCH}, {}, ["--test", "nosuch.py"]),
    # ------------------------------------------------ selftests and kunit
    Case("selftests-unknown-test", ["selftests", "--source", "{d}/tree", "--test", "nosuch.py"],
         {"tree": tree_with_selftests}, {}, ["--test", "nosuch.py", "sysfs.py"]),
    Case("selftests-timeout-zero", ["selftests", "--timeout", "0"], {}, {}, ["--timeout"]),
    Case("selftests-retries-negative", ["selftests", "--retries", "-1"], {}, {}, ["--retries"]),
    Case("selftests-retries-huge", ["selftests", "--retries", "1000"], {}, {}, ["--retries"]),
    Case("selftests-timeout-words", ["selftests", "--timeout", "soon"], {}, {}, ["--timeout"]),
    Case("selftests-append-quoted", ["selftests", "--append", "init='/bin/sh -c x'"], {}, {},
         ["--append", "kernel parameter"]),
    Case("boot-append-two-words", ["boot", "--append", "pti=off quiet"], {}, {},
         ["--append", "kernel parameter"]),
    Case("selftests-modules-without-kernel", ["selftests", "--modules", "{d}/mods"],
         {"mods": lambda p: (p.mkdir(), modules_dir(p))}, {}, ["--modules"]),
    Case("selftests-kernel-text-file", ["selftests", "--kernel", "{d}/notakernel.txt"],
         {"notakernel.txt": TEXT_FILE}, {}, ["--kernel", "notakernel.txt"]),
    Case("selftests-out-regular-file", ["selftests", "--out", "{d}/out.txt"],
         {"out.txt": "a regular file\n"}, {}, ["--out"]),
    Case("selftests-patches-missing", ["selftests", "--patches", "{d}/nosuch"], {}, {},
         ["--patches", "nosuch"]),
    Case("selftests-config-unknown", ["selftests", "--config", "+nosuchfragment"], {}, {},
         ["--config", "nosuchfragment"]),
    Case("selftests-kernel-other-version",
         ["selftests", "--source", "{d}/tree", "--kernel", "{d}/k/bzImage"],
         {"tree": tree_with_selftests, "k": fake_bzimage("6.1.0")}, {},
         ["--kernel", "6.1.0", "7.3.0"]),
    Case("selftests-kernel-other-patches",
         ["selftests", "--source", "{d}/tree", "--kernel", "{d}/k/bzImage"],
         {"tree": tree_with_selftests,
          "k": fake_bzimage("7.3.0", meta={"patches": [{"name": "0001-x.patch",
                                                         "sha256": "00"}]})}, {},
         ["--kernel", "0001-x.patch", "--patches"]),
    Case("selftests-kernel-lacks-options",
         ["selftests", "--source", "{d}/tree", "--kernel", "{d}/k/bzImage"],
         {"tree": tree_with_selftests, "k": fake_bzimage("7.3.0", config="CONFIG_DAMON=y\n")},
         {}, ["--kernel", "CONFIG_DAMON_LRU_SORT=y", "CONFIG_DEBUG_INFO=y"]),
    Case("kunit-kernel-lacks-kunit", ["kunit", "--kernel", "{d}/k/bzImage"],
         {"k": fake_bzimage("7.3.0", config="CONFIG_DAMON=y\n")}, {},
         ["--kernel", "CONFIG_KUNIT=y"]),
    Case("kunit-test-flag", ["kunit", "--test", "sysfs.py"], {}, {}, ["--test"]),
    # ------------------------------------------------------------ CLI flags
    Case("boot-kernel-text-file", ["boot", "--kernel", "{d}/notakernel.txt"],
         {"notakernel.txt": TEXT_FILE}, {}, ["--kernel", "notakernel.txt"]),
    Case("boot-kernel-missing", ["boot", "--kernel", "/nonexistent/bzImage"], {}, {},
         ["--kernel", "/nonexistent/bzImage"]),
    Case("boot-modules-without-kernel", ["boot", "--modules", "{d}/mods"],
         {"mods": lambda p: (p.mkdir(), modules_dir(p))}, {}, ["--modules"]),
    Case("boot-timeout-negative", ["boot", "--timeout", "-5"], {}, {}, ["--timeout"]),
    Case("boot-timeout-nan", ["boot", "--timeout", "nan"], {}, {}, ["--timeout"]),
    Case("shell-kernel-missing", ["shell", "--kernel", "/nonexistent/bzImage"], {}, {},
         ["--kernel", "/nonexistent/bzImage"]),
    Case("run-modules-without-kernel", ["run", "--modules", "{d}/mods", "{d}/good.yaml"],
         {**GOOD, "mods": lambda p: (p.mkdir(), modules_dir(p))}, {}, ["--modules"]),
    Case("run-kernel-text-file", ["run", "--kernel", "{d}/notakernel.txt", "{d}/good.yaml"],
         {**GOOD, "notakernel.txt": TEXT_FILE}, {}, ["--kernel", "notakernel.txt"]),
    Case("run-kernel-lacks-options", ["run", "--kernel", "{d}/k/bzImage", "{d}/good.yaml"],
         {**GOOD, "k": fake_bzimage("7.3.0", config="CONFIG_DAMON=y\n")}, {},
         ["--kernel", "good.yaml", "CONFIG_DAMON_SYSFS", "CONFIG_MEMCG"]),
    Case("run-out-regular-file", ["run", "--out", "{d}/out.txt", "{d}/good.yaml"],
         {**GOOD, "out.txt": "a regular file\n"}, {}, ["--out"]),
    Case("cache-prune-older-than-nan", ["cache", "prune", "--older-than", "nan"], {}, {},
         ["--older-than"]),
    Case("cache-prune-older-than-negative", ["cache", "prune", "--older-than", "-1"], {}, {},
         ["--older-than"]),
    Case("judge-missing-run-dir", ["judge", "/nonexistent-run-dir"], {}, {},
         ["/nonexistent-run-dir"]),
    Case("judge-not-a-run-dir", ["judge", "{d}/notarun"],
         {"notarun": lambda p: (p.mkdir(), (p / "notes.txt").write_text("hello\n"))}, {},
         ["notarun"]),
    Case("judge-expect-missing", ["judge", "/nonexistent-run-dir", "--expect",
                                  "/nonexistent/expect.yaml"], {}, {}, ["--expect"]),
    Case("judge-expect-without-expect", ["judge", "{d}/run", "--expect", "{d}/noexpect.yaml"],
         {"run": lambda p: shutil.copytree(CAPTURED_RUN, p),
          "noexpect.yaml": "name: x\n"}, {}, ["noexpect.yaml", "expect"]),
    # ------------------------------------------- scenarios: steps and new keys
    scenario("step-pid-of-unknown-workload",
             {"steps": [{"at": "5s", "run": "kill {pid:nope}"}]}, "steps[0].run"),
    scenario("step-after-the-sampling", {"steps": [{"at": "500s", "run": "true"}]},
             "steps[0].at"),
    scenario("step-params-without-module", {"steps": [{"at": 1, "params": {"x": "1"}}]},
             "steps[0].params"),
    scenario("step-two-actions", {"steps": [{"at": 1, "run": "true", "kill": "toucher"}]},
             "steps[0]"),
    scenario("stays-after-unknown-step", {"expect[1].stays.after_step": "nope"},
             "expect[1].stays.after_step"),
    scenario("reaches-after-unknown-step", {"expect[0].reaches.after_step": "nope"},
             "expect[0].reaches.after_step"),
    scenario("stays-until-before-after",
             {"expect[1].stays.after": "20s", "expect[1].stays.until": "10s"},
             "expect[1].stays.until"),
    scenario("guest-module-not-a-name", {"guest.modules": ["no such; module"]},
             "guest.modules[0]"),
    scenario("step-next-phase-unknown-workload",
             {"steps": [{"at": 1, "next_phase": "nosuch"}]}, "steps[0].next_phase"),
    scenario("guest-cmdline-two-words", {"guest.cmdline": ["pti=off quiet"]},
             "guest.cmdline[0]"),
    scenario("guest-cmdline-a-string", {"guest.cmdline": {"pti": "off"}}, "guest.cmdline"),
    scenario("metric-tasks-list", {"sample.metrics.kd": {"tasks": ["kdamond"]}},
             "sample.metrics.kd.tasks"),
    scenario("metric-kdamond-cpu-no-such-kdamond",
             {"sample.metrics.kd": {"kdamond_cpu": "share", "kdamond": 1}},
             ("sample.metrics.kd.kdamond", "no kdamond 1")),
    scenario("metric-kdamond-cpu-relative-alone",
             {"sample.metrics.kd": {"kdamond_cpu": "share", "relative_to": 0}},
             "sample.metrics.kd.relative_to"),
    scenario("metric-kmemleak-number", {"sample.metrics.kl": {"kmemleak": 5}},
             "sample.metrics.kl.kmemleak"),
    scenario("metric-damon-seen-unknown-region",
             {"sample.metrics.seen": {"damon_seen": "toucher.warm", "scheme": "collapse_hot"}},
             "sample.metrics.seen.damon_seen"),
    scenario("metric-damon-seen-without-scheme",
             {"sample.metrics.seen": {"damon_seen": "toucher.hot"}},
             "sample.metrics.seen.scheme"),
    scenario("metric-kdamond-cpu-bad-field", {"sample.metrics.kd": {"kdamond_cpu": "lots"}},
             "sample.metrics.kd.kdamond_cpu"),
    # ---------------------------------------------------- environment variables
    Case("env-max-guest-memory-not-size", ["boot", "--node", "mem=1G,cpus=0"], {},
         {"DAMON_HARNESS_MAX_GUEST_MEMORY": "lots"}, ["DAMON_HARNESS_MAX_GUEST_MEMORY"]),
    Case("env-max-guest-memory-not-size-run", ["run", "{d}/good.yaml"], GOOD,
         {"DAMON_HARNESS_MAX_GUEST_MEMORY": "lots"}, ["DAMON_HARNESS_MAX_GUEST_MEMORY"]),
    Case("env-results-regular-file", ["run", "{d}/good.yaml"],
         {**GOOD, "results.txt": "a regular file\n"},
         {"DAMON_HARNESS_RESULTS": "{d}/results.txt"}, ["DAMON_HARNESS_RESULTS"]),
    Case("env-cache-work-is-file",
         ["build", "--config-only", "--source", "{d}/tree"],
         {"tree": lambda p: (p.mkdir(), plausible_tree(p)), "hcache": cache_with_work_file},
         {"DAMON_HARNESS_CACHE": "{d}/hcache"},
         [("DAMON_HARNESS_CACHE", "hcache/work")]),
    Case("env-cache-regular-file", ["cache"], {"cache.txt": "a regular file\n"},
         {"DAMON_HARNESS_CACHE": "{d}/cache.txt"}, ["DAMON_HARNESS_CACHE"]),
]


# ------------------------------------------------------------------ the test

@pytest.fixture(scope="module")
def fakebin(tmp_path_factory) -> Path:
    """Executables that log their argv to $DAMON_TEST_FAKE_LOG and fail."""
    path = tmp_path_factory.mktemp("fakebin")
    for name in FAKED:
        exe = path / name
        exe.write_text('#!/bin/sh\nprintf \'%s\\n\' "$(basename "$0") $*" '
                       '>> "$DAMON_TEST_FAKE_LOG"\nexit 1\n')
        exe.chmod(exe.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def _fill(text: str, d: Path) -> str:
    return text.replace("{d}", str(d))


def _create(d: Path, files: Dict[str, Content]) -> None:
    for name, content in files.items():
        path = d / name
        if callable(content):
            content(path)
        elif isinstance(content, bytes):
            path.write_bytes(content.replace(b"{d}", str(d).encode()))
        else:
            path.write_text(_fill(content, d))


def _tree(root: Path) -> List[str]:
    """Everything below root, as relative paths (directories end with /)."""
    if not root.is_dir():
        return []
    return sorted(str(p.relative_to(root)) + ("/" if p.is_dir() else "")
                  for p in root.rglob("*"))


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def _has(line: str, word: Word) -> bool:
    return any(w in line for w in (word if isinstance(word, tuple) else (word,)))


def run_case(case: Case, tmp_path: Path, fakebin: Path) -> List[str]:
    """Run one case; the list of broken promises (empty when all held)."""
    d = tmp_path / "in"
    d.mkdir()
    _create(d, case.files)
    cache, results, home = tmp_path / "cache", tmp_path / "results", tmp_path / "home"
    scratch = tmp_path / "tmp"
    for path in (cache, results, home, scratch):
        path.mkdir()
    log = tmp_path / "fake.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith("DAMON_HARNESS_")}
    env.update(PYTHONPATH=str(REPO_ROOT), CI="true", HOME=str(home),
               PATH=f"{fakebin}{os.pathsep}{os.environ.get('PATH', '')}",
               DAMON_TEST_FAKE_LOG=str(log), TMPDIR=str(scratch),
               DAMON_HARNESS_CACHE=str(cache), DAMON_HARNESS_RESULTS=str(results),
               DAMON_HARNESS_MAX_GUEST_MEMORY="64G")
    env.update({k: _fill(v, d) for k, v in case.env.items()})
    watched_cache = Path(env["DAMON_HARNESS_CACHE"])
    cache_before = _tree(watched_cache)
    argv = [_fill(a, d) for a in case.args]
    words = [tuple(_fill(w, d) for w in word) if isinstance(word, tuple) else _fill(word, d)
             for word in case.words]

    problems = []
    try:
        proc = subprocess.run([sys.executable, "-m", "harness", *argv], env=env, cwd=d,
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=TIMEOUT_S, preexec_fn=_limit_memory)
        code, stderr = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired as exc:
        code = "timeout"
        stderr = exc.stderr.decode(errors="replace") if isinstance(exc.stderr, bytes) \
            else (exc.stderr or "")
        problems.append(f"still running after {TIMEOUT_S} s")

    lines = stderr.splitlines()
    first = next((line for line in lines if line.strip()), "")
    if code != 2:
        problems.append(f"exit status {code}, not 2")
    if "Traceback" in stderr:
        last = next((line for line in reversed(lines) if line.strip()), "")
        problems.append(f"traceback ({last[:160]})")
    if len(lines) != 1 or not lines[0].strip():
        problems.append(f"{len(lines)} lines on stderr, not 1")
    if len(first) > MAX_LINE:
        problems.append(f"line of {len(first)} characters, more than {MAX_LINE}")
    missing = [w for w in words if not _has(first, w)]
    if missing and "Traceback" not in stderr:
        problems.append(f"line does not name {' / '.join(map(str, missing))}")
    if log.exists() and log.read_text().strip():
        ran = sorted({line.split()[0] for line in log.read_text().splitlines() if line})
        problems.append(f"ran {', '.join(ran)}")
    new_in_cache = sorted(set(_tree(watched_cache)) - set(cache_before))
    if new_in_cache:
        shown = ", ".join(new_in_cache[:4]) + (" ..." if len(new_in_cache) > 4 else "")
        problems.append(f"wrote into the cache: {shown}")
    result_files = [p for p in results.rglob("*") if p.is_file()]
    if result_files:
        problems.append(f"wrote results: {result_files[0].relative_to(results)}"
                        + (" ..." if len(result_files) > 1 else ""))
    left = _tree(scratch)
    if left:
        problems.append(f"left in TMPDIR: {', '.join(left[:3])}")
    for name in case.unpacked:
        found = list(tmp_path.rglob(name))
        if found:
            problems.append(f"unpacked {found[0].relative_to(tmp_path)}")
    consoles = list(tmp_path.rglob("console.log"))
    if consoles:
        problems.append(f"a console.log: {consoles[0].relative_to(tmp_path)}")
    if problems:
        problems.append(f"stderr starts: {first[:200]!r}")
    return problems


def test_corpus_is_large_and_ids_unique():
    ids = [case.id for case in CASES]
    assert len(ids) >= 70
    assert len(set(ids)) == len(ids)


def test_base_scenario_and_topology_are_valid():
    """Every scenario case breaks one thing of BASE: it must itself be valid."""
    from harness.scenario import parse_scenario
    from harness.topology import parse_topology
    sc = parse_scenario(yaml.safe_load(BASE_YAML), "good.yaml", "")
    assert sc.name == "base" and len(sc.expect) == 3
    assert len(parse_topology(copy.deepcopy(TOPOLOGY), "topo.yaml").nodes) == 2


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_bad_input_is_refused_in_one_line(case, tmp_path, fakebin):
    problems = run_case(case, tmp_path, fakebin)
    assert not problems, f"{case.id}: " + "; ".join(problems)


def test_a_cluster_whose_workers_declare_no_vm_is_refused_in_one_line(tmp_path, fakebin):
    """A real scheduler with one worker started without --resources VM=N."""
    from harness.dask_local import LocalCluster
    (tmp_path / "logs").mkdir()
    with LocalCluster(workers=1, vms=0, log_dir=tmp_path / "logs") as cluster:
        case = Case("cluster-without-vm-workers", ["run", "collapse", "--cluster",
                                                   cluster.address], {}, {},
                    ["--cluster", cluster.address, "VM"])
        problems = run_case(case, tmp_path, fakebin)
    assert not problems, "; ".join(problems)


def test_an_ssh_host_that_refuses_is_refused_in_one_line_with_what_ssh_said(tmp_path):
    """The real ssh, to a port where nothing listens: exit 2 before anything
    builds or boots, and no cache written."""
    cache = tmp_path / "cache"
    cache.mkdir()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("DAMON_HARNESS_")},
           "PYTHONPATH": str(REPO_ROOT), "DAMON_HARNESS_CACHE": str(cache),
           "DAMON_HARNESS_RESULTS": str(tmp_path / "results")}
    proc = subprocess.run([sys.executable, "-m", "harness", "run", "collapse", "--cluster",
                           "ssh://127.0.0.1:1"], env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    [line] = proc.stderr.strip().splitlines()
    assert "--cluster" in line and "127.0.0.1:1" in line and "Connection refused" in line
    assert not any(cache.iterdir())
