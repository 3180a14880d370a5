"""A run directory holds everything the stages after sampling need, so a run
can be judged, compared and reported again without a boot.

  scenario.yaml       the scenario as it was given
  facts.json          what the run learned in the guest: workload pids and
                      regions, each node's MemTotal and physical ranges, the
                      DAMOS scheme directories
  samples.json        every sampled series with its unit
  steps.json          what each of the scenario's steps did and how it ended
  raw-sample-first.txt, raw-sample-last.txt
                      the guest's own output of the first and last sample
  result.json         verdict, checks with their numbers, timings
  kernel.json         the kernel it ran on (or would have: a SKIP before boot)
  vm.json, console.log, dmesg.txt, damon-tree.txt, guest-commands.log, ...

This module owns those file names and their formats.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

SCENARIO = "scenario.yaml"
FACTS = "facts.json"
SAMPLES = "samples.json"
RESULT = "result.json"
STEPS = "steps.json"
RAW_SAMPLES = ("raw-sample-first.txt", "raw-sample-last.txt")
KERNEL = "kernel.json"


def save_kernel(run_dir: Path, kernel: dict) -> None:
    (Path(run_dir) / KERNEL).write_text(json.dumps(kernel, indent=2, default=str) + "\n")


def load_kernel(run_dir: Path) -> Optional[dict]:
    """The kernel a run was given, else the one its VM booted (vm.json)."""
    for name, key in ((KERNEL, None), ("vm.json", "kernel")):
        try:
            data = json.loads((Path(run_dir) / name).read_text())
        except (OSError, ValueError):
            continue
        data = data.get(key) if key else data
        if isinstance(data, dict):
            return data
    return None


@dataclass
class Series:
    """A sampled metric: seconds since DAMON was turned on, and values
    (None where the source could not be read)."""
    times: List[float]
    values: List[Optional[float]]


@dataclass
class RunFacts:
    """What the run learned in the guest, which metrics and the DAMON tree
    refer to."""
    pids: Dict[str, int] = field(default_factory=dict)
    regions: Dict[str, Dict[str, Tuple[int, int]]] = field(default_factory=dict)
    node_ranges: Dict[int, List[Tuple[int, int]]] = field(default_factory=dict)
    node_total: Dict[int, int] = field(default_factory=dict)
    scheme_dirs: Dict[str, str] = field(default_factory=dict)
    topology: dict = field(default_factory=dict)


def save_facts(run_dir: Path, facts: RunFacts) -> None:
    _write_json(Path(run_dir) / FACTS, asdict(facts))


def load_facts(run_dir: Path) -> RunFacts:
    data = json.loads((Path(run_dir) / FACTS).read_text())
    return RunFacts(
        pids=data.get("pids", {}),
        regions={w: {r: tuple(span) for r, span in regs.items()}
                 for w, regs in data.get("regions", {}).items()},
        node_ranges={int(n): [tuple(r) for r in rs]
                     for n, rs in data.get("node_ranges", {}).items()},
        node_total={int(n): v for n, v in data.get("node_total", {}).items()},
        scheme_dirs=data.get("scheme_dirs", {}),
        topology=data.get("topology", {}))


def save_samples(run_dir: Path, series: Dict[str, Series], units: Dict[str, str]) -> None:
    data = {name: {"times": s.times, "values": s.values, "unit": units.get(name)}
            for name, s in series.items()}
    _write_json(Path(run_dir) / SAMPLES, data, indent=None)


def load_samples(run_dir: Path) -> Dict[str, Series]:
    data = json.loads((Path(run_dir) / SAMPLES).read_text())
    return {name: Series(list(s["times"]), list(s["values"])) for name, s in data.items()}


def save_steps(run_dir: Path, outcomes: List[dict]) -> None:
    _write_json(Path(run_dir) / STEPS, outcomes)


def load_steps(run_dir: Path) -> List[dict]:
    path = Path(run_dir) / STEPS
    return json.loads(path.read_text()) if path.is_file() else []


def save_result(run_dir: Path, data: dict) -> None:
    _write_json(Path(run_dir) / RESULT, data)


def load_result(run_dir: Path) -> dict:
    path = Path(run_dir) / RESULT
    return json.loads(path.read_text()) if path.is_file() else {}


def _write_json(path: Path, data, indent: Optional[int] = 2) -> None:
    """Written beside and renamed, so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=indent) + "\n")
    tmp.replace(path)
