"""What makes one bisect step good: a scenario's verdict or figure, a KUnit
case, or a selftest. Each factory checks its inputs before anything runs and
returns make(kernel_inputs, out) -> judge(key) -> Step, where
kernel_inputs(key) -> (source, patches) names the kernel of a step: a count
of a series' patches, or a commit of a git range."""

import statistics
from pathlib import Path

from harness.bisect import Step, timed, write_prefix
from harness.errors import InputError
from harness.kernel.source import local_tree


def series_inputs(args, series, out: Path):
    """kernel_inputs for a patch series: key = how many of its patches."""
    def inputs(count: int):
        if count == 0:
            return args.source, list(args.base_patches)
        return args.source, list(args.base_patches) + [
            str(write_prefix(series, count, out / "prefixes"))]
    return inputs


def step_dir(out: Path, key) -> Path:
    return out / f"step-{key if isinstance(key, int) else str(key)[:12]}"


def _majority(votes) -> bool:
    return sum(votes) * 2 > len(votes)


def scenario_judge(args, fragments):
    from harness.commands.run import scenario_paths
    from harness.compare.figures import figure_names
    from harness.scenario import load_scenario
    sc = load_scenario(scenario_paths([args.scenario])[0], check_kernel=False)
    better = None
    if args.figure is not None or args.worse_than is not None:
        names = figure_names(sc)
        if args.figure not in names:
            raise InputError("--figure", f"{sc.name} gives no figure {args.figure!r} "
                                         f"(it gives: {'; '.join(names)})")
        if args.worse_than is None:
            raise InputError("--worse-than", "is required with --figure")
        better = names[args.figure].better
    repeat = args.repeat or 3

    def make(kernel_inputs, out):
        def judge(key) -> Step:
            return _scenario_step(args, sc, fragments, kernel_inputs, key, out, repeat, better)
        return judge
    return make


def _scenario_step(args, sc, fragments, kernel_inputs, key, out, repeat, better) -> Step:
    from harness import engine
    from harness.compare.figures import run_figures
    from harness.kernel.build import build_kernel
    from harness.report import summary_line
    source, patches = kernel_inputs(key)
    kernel, build_s = timed(lambda: build_kernel(source=source, patches=patches,
                                                 fragments=fragments))
    votes, notes, values = [], [], []
    results, run_s = timed(lambda: [
        engine.run_scenario(sc, kernel=kernel, accel=args.accel,
                            run_dir=step_dir(out, key) / f"run-{r}")
        for r in range(1, repeat + 1)])
    for result in results:
        notes.append(summary_line(result))
        if better is None:
            votes.append(result.verdict.value == "PASS")
            continue
        value = {f.name: f.value for f in run_figures(sc, result)}.get(args.figure)
        values.append(value)
        votes.append(value is not None and _not_worse(value, args.worse_than, better))
    if values and all(v is not None for v in values):
        notes.append(f"{args.figure}: median {statistics.median(values):.4g}")
    return Step(key, _majority(votes), votes, notes, build_s, run_s)


def _not_worse(value: float, limit: float, better: str) -> bool:
    return value <= limit if better == "lower" else value >= limit


def kunit_judge(args, fragments):
    from harness.selftests import tree as ktree
    tree = local_tree(args.source)
    if tree is not None:
        known = [c for cases in ktree.tree_kunit_cases(tree).values() for c in cases]
        if args.kunit not in known:
            raise InputError("--kunit", f"no KUnit case {args.kunit!r} in {ktree.KUNIT_HEADERS}")
    return _test_kernel_judge(args, fragments, _kunit_votes)


def selftest_judge(args, fragments):
    from harness.selftests import kernel as skernel
    from harness.selftests import tree as ktree
    tree = local_tree(args.source)
    if tree is not None:
        skernel.check_test_names([args.selftest], ktree.tree_selftest_names(tree),
                                 ktree.SELFTEST_DIR)
    return _test_kernel_judge(args, fragments, _selftest_votes)


def _test_kernel_judge(args, fragments, votes_of):
    def make(kernel_inputs, out):
        def judge(key) -> Step:
            from harness.selftests.kernel import prepare
            source, patches = kernel_inputs(key)
            test_kernel, build_s = timed(lambda: prepare(source, patches, fragments, None))
            (votes, notes), run_s = timed(lambda: votes_of(args, test_kernel,
                                                           step_dir(out, key)))
            return Step(key, _majority(votes), votes, notes, build_s, run_s)
        return judge
    return make


def _kunit_votes(args, test_kernel, out: Path):
    from harness.commands.kunit import DEADLINE_S
    from harness.image import guest_image
    from harness.selftests.runner import watch_kunit
    from harness.topology import load_topology
    from harness.vm.accel import choose_accel
    from harness.vm.machine import VM
    accel = choose_accel(test_kernel.kernel.image, args.accel)
    votes, notes = [], []
    for r in range(1, (args.repeat or 1) + 1):
        run_dir = out / f"run-{r}"
        run_dir.mkdir(parents=True, exist_ok=True)
        vm = VM(load_topology("two-node"), test_kernel.kernel, guest_image(), run_dir, accel)
        case = next((t for t in watch_kunit(vm, test_kernel.tools, DEADLINE_S[accel])
                     if t.name == args.kunit), None)
        votes.append(case is not None and case.status.value == "PASS")
        notes.append(f"{args.kunit}: {case.status.value if case else 'absent'} "
                     f"{case.reason if case else ''}".strip())
    return votes, notes


def _selftest_votes(args, test_kernel, out: Path):
    from harness.image import guest_image
    from harness.selftests import runner
    from harness.topology import load_topology
    from harness.vm.accel import choose_accel
    from harness.vm.machine import boot
    accel = choose_accel(test_kernel.kernel.image, args.accel)
    timeout = runner.effective_timeout(test_kernel.tools, None, accel)
    votes, notes = [], []
    for r in range(1, (args.repeat or 1) + 1):
        run_dir = out / f"run-{r}"
        run_dir.mkdir(parents=True, exist_ok=True)
        with boot(load_topology("two-node"), test_kernel.kernel, guest_image("selftests"),
                  run_dir, accel) as vm:
            runner.prepare_guest(vm, False)
            runner.install(vm, test_kernel.tools, test_kernel.vmlinux, run_dir)
            result = runner.run_selftests(vm, test_kernel.tools, [args.selftest], timeout,
                                          run_dir)[0]
        votes.append(result.status.value == "PASS")
        notes.append(f"{args.selftest}: {result.status.value} {result.reason}".strip())
    return votes, notes
