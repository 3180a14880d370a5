"""Per-test results of DAMON's selftests and KUnit cases, and their reports:
JSON, JUnit XML, a one-line summary, and the block developers paste into a
mail to the list."""

import json
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Dict, List, Sequence


class Status(str, Enum):
    PASS = "PASS"
    FAIL = "FAIL"
    SKIP = "SKIP"
    TIMEOUT = "TIMEOUT"
    CRASH = "CRASH"
    NOTRUN = "NOT RUN"
    FLAKY = "FLAKY"     # FAILed or TIMEd OUT, then PASSed on a retry: not a PASS


BAD = (Status.FAIL, Status.TIMEOUT, Status.CRASH, Status.NOTRUN)


@dataclass
class TestResult:
    __test__ = False    # not a pytest class, despite its name

    kind: str           # "selftest" or "kunit"
    suite: str          # "damon" for the selftests; the KUnit suite otherwise
    name: str           # the selftest program, or the KUnit case
    status: Status
    reason: str = ""    # why it skipped, timed out, crashed or did not run
    output: str = ""
    number: int = 0     # its place in the run (KTAP's test number)
    attempts: int = 1   # how many times it ran (see selftests --retries)
    seconds: float = 0.0    # its last attempt's wall time, to the runner's polling (0: unknown)

    @property
    def ident(self) -> str:
        return f"{self.suite}:{self.name}"

    def to_dict(self) -> dict:
        data = asdict(self)
        data["status"] = self.status.value
        return data

    @classmethod
    def from_dict(cls, data: dict) -> "TestResult":
        return cls(**{**data, "status": Status(data["status"])})


def counts(results: Sequence[TestResult]) -> Dict[str, int]:
    tally = {status.value: 0 for status in Status}
    for result in results:
        tally[result.status.value] += 1
    return {name: n for name, n in tally.items() if n}


def summary_line(label: str, results: Sequence[TestResult]) -> str:
    tally = ", ".join(f"{n} {name}" for name, n in counts(results).items())
    verdict = ("FAIL" if any(r.status in BAD for r in results) else
               "FLAKY" if any(r.status == Status.FLAKY for r in results) else "PASS")
    return f"{label}: {verdict}: {len(results)} tests: {tally or 'none'}"


def mail_block(results: Sequence[TestResult]) -> str:
    """KTAP-style lines as DAMON developers quote them in mails."""
    lines = []
    selftests = [r for r in results if r.kind == "selftest"]
    for r in selftests:
        ok = "ok" if r.status in (Status.PASS, Status.SKIP, Status.FLAKY) else "not ok"
        directive = {Status.SKIP: " # SKIP", Status.TIMEOUT: " # TIMEOUT", Status.FLAKY: " # FLAKY",
                     Status.CRASH: " # CRASH", Status.NOTRUN: " # NOT RUN"}.get(r.status, "")
        reason = f" {r.reason}" if r.reason and r.status in (Status.SKIP, Status.CRASH) else ""
        retried = f" # {r.attempts} attempts ({r.reason})" if r.attempts > 1 else ""
        lines.append(f"{ok} {r.number} selftests: {r.suite}: {r.name}{directive}{reason}"
                     f"{retried}")
    for suite in dict.fromkeys(r.suite for r in results if r.kind == "kunit"):
        cases = [r for r in results if r.kind == "kunit" and r.suite == suite]
        tally = counts(cases)
        lines.append(f"# kunit {suite}: pass:{tally.get('PASS', 0)} fail:{tally.get('FAIL', 0)} "
                     f"skip:{tally.get('SKIP', 0)} total:{len(cases)}")
        lines += [f"not ok {r.number} {r.name} # {r.status.value}" for r in cases
                  if r.status in BAD]
    return "\n".join(lines) + "\n"


def report_paths(out: Path) -> Dict[str, Path]:
    return {"json": out / "results.json", "junit": out / "junit.xml",
            "mail": out / "mail.txt", "kcidb": out / "kcidb.json"}


def write_reports(results: Sequence[TestResult], out: Path, label: str,
                  extra: dict) -> Dict[str, Path]:
    out.mkdir(parents=True, exist_ok=True)
    paths = report_paths(out)
    data = {"summary": summary_line(label, results), "counts": counts(results), **extra,
            "tests": [r.to_dict() for r in results]}
    paths["json"].write_text(json.dumps(data, indent=2) + "\n")
    paths["junit"].write_text(junit_xml(results, label))
    paths["mail"].write_text(mail_block(results))
    from harness import kcidb
    doc = kcidb.Document()
    kcidb.add_selftests(doc, results, extra.get("kernel"), str(out))
    doc.write(paths["kcidb"])
    return paths


def junit_xml(results: Sequence[TestResult], label: str) -> str:
    from junit_xml import TestCase, TestSuite, to_xml_report_string
    suites: Dict[str, List] = {}
    for r in results:
        case = TestCase(r.name, classname=f"{label}.{r.kind}.{r.suite}", stdout=r.output,
                        elapsed_sec=r.seconds or None, status=r.status.value)
        if r.status == Status.SKIP:
            case.add_skipped_info(r.reason or "skipped")
        elif r.status == Status.FAIL:
            case.add_failure_info(r.reason or "failed", r.output)
        elif r.status in BAD:
            case.add_error_info(f"{r.status.value}: {r.reason}", r.output)
        suites.setdefault(f"{r.kind}.{r.suite}", []).append(case)
    return to_xml_report_string([TestSuite(name, cases) for name, cases in suites.items()])


def exit_status(results: Sequence[TestResult]) -> int:
    return 1 if any(r.status in BAD for r in results) else 0
