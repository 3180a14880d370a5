"""`damon-harness reproduce`: run the reproductions of published results and
set ours beside theirs."""

import sys

from harness.commands.argtypes import integer
from harness.commands.vmargs import add_scenario_run_arguments, kernel_override

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
    parser.add_argument("--out", metavar="DIR", help="where runs and reports go")
    parser.set_defaults(func=run)


def run(args) -> int:
    from harness import reproduce
    from harness.paths import checked_out, run_dir_for
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
    out = run_dir_for(checked_out(args.out), "reproduce")
    reports = [_one(exp, kernel, args, out) for exp in experiments]
    (out / "reproduce.txt").write_text("\n".join(text for _, text in reports))
    print(f"reports: {out}", file=sys.stderr)
    return max(EXIT[verdict] for verdict, _ in reports)


def _kernel(args, scenarios):
    kernel = kernel_override(args)
    if kernel is not None:
        from harness.kernel.needs import check_kernel
        check_kernel(scenarios, kernel)
    return kernel


def _one(exp, kernel, args, out):
    """Every condition once per repeat, interleaved, then the report."""
    from harness import engine, reproduce
    from harness.kernel.spec import kernel_for
    from harness.report import progress, summary_line
    repeat = args.repeat or exp.reference.runs
    results = {cond: [] for cond in exp.variants}
    for i in range(1, repeat + 1):
        for cond, sc in exp.variants.items():
            used = kernel or kernel_for(sc.kernel)
            run_dir = out / exp.name / f"{cond + '-' if cond else ''}run-{i}"
            result = engine.run_scenario(sc, kernel=used, accel=args.accel, run_dir=run_dir)
            progress(f"[{i}/{repeat}] {summary_line(result)}")
            results[cond].append(result)
    rep = reproduce.judge(exp, results)
    body = reproduce.write(rep, str(used.describe()), out / exp.name)
    print(body)
    return rep.verdict, body
