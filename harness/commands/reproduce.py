"""`damon-harness reproduce`: run the reproductions of published results and
set ours beside theirs."""

import sys

from harness.commands.argtypes import flags_given, integer
from harness.commands.vmargs import (add_runner_arguments, add_scenario_run_arguments,
                                     kernel_override, runner_for)
from harness.errors import InputError

EXIT = {"REPRODUCED": 0, "DIFFERS": 1, "NOT COMPARABLE": 3}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "reproduce", help="reproduce results published on LKML, beside the published numbers",
        description="Run each reproduction (a scenario with a reference: block) and report "
                    "published and measured side by side, with REPRODUCED, DIFFERS or NOT "
                    "COMPARABLE per comparison. Exit status: 0 all reproduced, 1 one differs, "
                    "3 one could not be compared, 2 bad input.")
    parser.add_argument("names", nargs="*", metavar="NAME",
                        help="reproductions by name or file (default: all of them)")
    parser.add_argument("--list", action="store_true", help="list the reproductions and stop")
    parser.add_argument("--repeat", type=integer(1, 100, "runs"), metavar="N",
                        help="runs of each (default: the reproduction's own runs:)")
    add_scenario_run_arguments(parser, "reproduction")
    add_runner_arguments(parser)
    parser.add_argument("--out", metavar="DIR", help="where runs and reports go")
    parser.add_argument("--report-only", metavar="DIR",
                        help="judge a reproduction's saved runs again and rewrite its reports "
                             "(no boot)")
    parser.set_defaults(func=run, parser=parser)


def run(args) -> int:
    from harness import reproduce
    from harness.paths import checked_out, run_dir_for
    if args.report_only:
        return report_only(args)
    experiments = reproduce.load(reproduce.paths_for(args.names), check_kernel=not args.kernel)
    if args.list:
        for exp in experiments:
            src = exp.reference.source
            conds = f", conditions {', '.join(exp.variants)}" if len(exp.variants) > 1 else ""
            print(f"{exp.name:<28} {exp.reference.runs} run(s){conds}  "
                  f"{', '.join(src.authors)}, {src.date}  <{src.message_id}>\n"
                  f"{'':<28} {exp.description}")
        return 0
    kernel = _kernel(args, [sc for exp in experiments for sc in exp.variants.values()])
    runner = runner_for(args)
    out = run_dir_for(checked_out(args.out), "reproduce")
    reports = [_one(exp, kernel, runner, args, out) for exp in experiments]
    (out / "reproduce.txt").write_text("\n".join(text for _, text in reports))
    print(f"reports: {out}", file=sys.stderr)
    return max(EXIT[verdict] for verdict, _ in reports)


def report_only(args) -> int:
    from pathlib import Path
    from harness import reproduce
    given = flags_given(args.parser, args, keep={"report_only"})
    if given:
        raise InputError("--report-only", f"takes the runs as they are; {given[0]} cannot "
                                          f"change them")
    verdicts = []
    for out in reproduce.saved_dirs(Path(args.report_only)):
        rep, kernel = reproduce.rejudge(out, echo=lambda m: print(m, file=sys.stderr))
        print(reproduce.write(rep, kernel, out))
        verdicts.append(rep.verdict)
    return max(EXIT[v] for v in verdicts)


def _kernel(args, scenarios):
    kernel = kernel_override(args)
    if kernel is not None:
        from harness.kernel.needs import check_kernel
        check_kernel(scenarios, kernel)
    return kernel


def _one(exp, kernel, runner, args, out):
    """Every condition once per repeat, interleaved, then the report."""
    from harness import reproduce
    from harness.kernel.prebuilt import default_kernel
    from harness.kernel.spec import kernel_for
    from harness.report import progress
    from harness.runner import interleaved
    kernels = {cond: kernel or kernel_for(sc.kernel) or default_kernel()
               for cond, sc in exp.variants.items()}
    described = "; ".join(dict.fromkeys(reproduce.kernel_line(k) for k in kernels.values()))
    reproduce.save_inputs(exp, out / exp.name, described)
    cells = [(cond, sc, kernels[cond], cond) for cond, sc in exp.variants.items()]
    tasks = interleaved(cells, args.repeat or exp.reference.runs,
                        lambda cond, i: out / exp.name / reproduce.run_dir_name(cond, i))
    results = {cond: [] for cond in exp.variants}
    results.update(runner.run(tasks, echo=progress))
    rep = reproduce.judge(exp, results)
    body = reproduce.write(rep, described, out / exp.name)
    print(body)
    return rep.verdict, body
