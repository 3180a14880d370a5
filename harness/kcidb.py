"""Results as KCIDB v4 JSON, the format KernelCI gathers upstream testing in:
one checkout (the source and its patches) and one build per kernel, and one
test per scenario, selftest or KUnit case that ran on it.

A kernel is described as the harness records it (Kernel.describe(), the
`kernel` of every run's vm.json): built by the harness (source, patches,
fragments), a Debian package, or a file the user gave. IDs are hashes of
those inputs, so the same kernel gets the same checkout and build IDs in
every report, and KernelCI can put runs of many days together.
"""

import hashlib
import json
from pathlib import Path
from typing import Dict, Iterable, Optional, Tuple

from harness import rundir

ORIGIN = "damon_harness"
VERSION = {"major": 4, "minor": 5}
ARCH = "x86_64"

# What KCIDB's statuses mean: FAIL (the kernel is faulty), ERROR (the test
# did not complete), MISS (the harness did not run it), PASS, SKIP. FLAKY
# passed only on a second try: a FAIL here too, with the verdict in misc.
SCENARIO_STATUS = {"PASS": "PASS", "FAIL": "FAIL", "FLAKY": "FAIL", "CRASH": "FAIL",
                   "HANG": "FAIL", "BOOT_FAIL": "FAIL", "ERROR": "ERROR", "SKIP": "SKIP"}
SELFTEST_STATUS = {"PASS": "PASS", "FAIL": "FAIL", "FLAKY": "FAIL", "CRASH": "FAIL",
                   "TIMEOUT": "FAIL", "SKIP": "SKIP", "NOT RUN": "MISS"}
UNKNOWN_KERNEL = {"origin": {"kind": "unknown"}, "release": ""}


def _id(*parts) -> str:
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    return f"{ORIGIN}:{digest.hexdigest()[:24]}"


def patchset_hash(patches: Iterable[dict]) -> str:
    """KCIDB's: sha256 over the patches' sha256s, each newline-terminated."""
    sums = "".join(p["sha256"] + "\n" for p in patches)
    return hashlib.sha256(sums.encode()).hexdigest() if sums else ""


def checkout_and_build(kernel: dict) -> Tuple[dict, dict]:
    origin = kernel.get("origin") or {}
    kind = origin.get("kind", "unknown")
    release = kernel.get("release", "")
    if kind == "build":
        source = origin.get("source", {})
        patches = origin.get("patches", [])
        checkout = {"id": _id(source.get("identity"), patchset_hash(patches)),
                    "tree_name": source.get("kind", ""),
                    "patchset_hash": patchset_hash(patches),
                    "comment": f"{source.get('origin') or source.get('identity')}"
                               f" ({source.get('version', '?')}), "
                               f"{len(patches)} patch(es)"}
        fragments = [Path(f["path"]).name for f in origin.get("fragments", [])]
        build = {"id": _id(checkout["id"], [f["sha256"] for f in origin.get("fragments", [])],
                           origin.get("compiler")),
                 "compiler": origin.get("compiler", ""), "command": origin.get("make", ""),
                 "config_name": "+".join(f.removesuffix(".config") for f in fragments),
                 "misc": {"patches": [p["name"] for p in patches], "release": release}}
        if "duration_s" in origin:
            build["duration"] = origin["duration_s"]
        if "built_at" in origin:
            build["start_time"] = origin["built_at"].replace("Z", "+00:00")
    elif kind == "debian":
        checkout = {"id": _id("debian", origin.get("package"), origin.get("version")),
                    "tree_name": "debian",
                    "comment": f"Debian package {origin.get('package')} {origin.get('version')}"}
        build = {"id": _id(checkout["id"], origin.get("debs")),
                 "config_name": "debian", "misc": {"release": release}}
    else:
        where = origin.get("path", "") if kind == "file" else ""
        checkout = {"id": _id(kind, where),
                    "comment": f"a kernel image given as a file: {where}" if where
                    else "the run ended before a kernel was chosen"}
        build = {"id": _id(checkout["id"], release), "misc": {"release": release}}
    checkout["origin"] = build["origin"] = ORIGIN
    build.update(checkout_id=checkout["id"], architecture=ARCH)
    if kind != "unknown":       # it booted, so its source combined and it built
        checkout["valid"] = build["valid"] = True
    return checkout, build


class Document:
    """Checkouts, builds and tests gathered from runs, each kernel once."""

    def __init__(self):
        self.checkouts: Dict[str, dict] = {}
        self.builds: Dict[str, dict] = {}
        self.tests: list = []

    def build_id(self, kernel: Optional[dict]) -> str:
        checkout, build = checkout_and_build(kernel or UNKNOWN_KERNEL)
        self.checkouts.setdefault(checkout["id"], checkout)
        self.builds.setdefault(build["id"], build)
        return build["id"]

    def add_test(self, kernel: Optional[dict], run: str, path: str, status: str,
                 duration: float = 0.0, log_excerpt: str = "", misc: Optional[dict] = None,
                 environment: str = "") -> None:
        build_id = self.build_id(kernel)
        test = {"id": _id(build_id, run, path), "origin": ORIGIN, "build_id": build_id,
                "path": path, "status": status}
        if duration:
            test["duration"] = round(duration, 3)
        if log_excerpt:
            test["log_excerpt"] = log_excerpt[-16384:]
        if misc:
            test["misc"] = misc
        if environment:
            test["environment"] = {"comment": environment}
        self.tests.append(test)

    def to_dict(self) -> dict:
        return {"version": dict(VERSION), "checkouts": list(self.checkouts.values()),
                "builds": list(self.builds.values()), "tests": self.tests}

    def write(self, path: Path) -> Path:
        Path(path).write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return Path(path)


def path_part(name: str) -> str:
    """A name as one node of a KCIDB test path ([a-zA-Z0-9_-], no dots)."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in name)


def _vm_facts(run_dir: Optional[str]) -> dict:
    try:
        return json.loads((Path(run_dir) / "vm.json").read_text()) if run_dir else {}
    except (OSError, ValueError):
        return {}


def add_scenarios(doc: Document, results) -> None:
    """One test per scenario result (report.ScenarioResult), on the kernel
    its run's vm.json names."""
    for r in results:
        vm = _vm_facts(r.run_dir)
        verdict = str(r.verdict)
        env = (f"QEMU {vm.get('accel', '?')} guest, topology "
               f"{(vm.get('topology') or {}).get('name', '?')}") if vm else ""
        kernel = rundir.load_kernel(Path(r.run_dir)) if r.run_dir else None
        doc.add_test(kernel, r.run_dir or r.name, f"{ORIGIN}.{path_part(r.name)}",
                     SCENARIO_STATUS.get(verdict, "ERROR"), r.wall_time,
                     "\n".join(f"{c.verdict} {c.name}: {c.summary}" for c in r.checks)
                     or r.message, {"verdict": verdict, "run_dir": r.run_dir}, env)


def add_selftests(doc: Document, results, kernel: Optional[dict], run: str) -> None:
    """One test per selftest or KUnit case (selftests.results.TestResult)."""
    for r in results:
        path = (f"kselftest.damon.{path_part(r.name)}" if r.kind == "selftest"
                else f"kunit.{path_part(r.suite)}.{path_part(r.name)}")
        status = r.status.value
        doc.add_test(kernel, run, path, SELFTEST_STATUS.get(status, "ERROR"), r.seconds,
                     r.output or r.reason, {"status": status, "attempts": r.attempts,
                                            **({"reason": r.reason} if r.reason else {})},
                     "QEMU guest")
