"""`damon-harness build`: build (or find in the cache) a kernel from source."""

import shutil

from harness.commands.argtypes import integer
from harness.kernel.build import DEFAULT, build_kernel, check_kernel_config
from harness.paths import check_results_dir, new_run_dir


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "build", help="build a kernel from source, patches and config fragments",
        description="Build a kernel (cached by its inputs) and print the artefact's path.")
    parser.add_argument("--source", metavar="PATH|TARBALL|debian:VERSION",
                        help="kernel tree (git or plain) or tarball, or debian:VERSION, "
                             "Debian's linux-source-VERSION package (6.1, 6.12, 7.2, 7.3); "
                             "default: debian:7.3")
    parser.add_argument("--patches", metavar="DIR|MBOX", action="append", default=[],
                        help="patch series: a directory (series file or *.patch) or an "
                             "mbox; may be repeated")
    parser.add_argument("--config", metavar="FRAGMENT", action="append", default=None,
                        help="config fragment: a file or a name in kernel-configs/; may be "
                             f"repeated (default: {' '.join(DEFAULT)}); +NAME adds to "
                             "the defaults instead of replacing them, e.g. --config +debug")
    parser.add_argument("--jobs", "-j", type=integer(1, 4096, "make jobs"), default=None,
                        help="parallel make jobs (default: number of CPUs)")
    parser.add_argument("--config-only", action="store_true",
                        help="only generate and verify the config (seconds, no compile); "
                             "print the path of a copy of the .config")
    parser.set_defaults(func=run)


def fragments_from(values, defaults=DEFAULT) -> tuple:
    """--config values: none = defaults; +NAME entries are added to the defaults."""
    if not values:
        return tuple(defaults)
    added = [v[1:] for v in values if v.startswith("+")]
    plain = [v for v in values if not v.startswith("+")]
    return tuple((plain or list(defaults)) + added)


def run(args) -> int:
    fragments = fragments_from(args.config)
    if args.config_only:
        check_results_dir()     # before minutes of fetching and configuring
        generated = check_kernel_config(source=args.source, patches=args.patches,
                                        fragments=fragments)
        kept = new_run_dir("config") / "config"
        shutil.copyfile(generated, kept)
        print(kept)
        return 0
    kernel = build_kernel(source=args.source, patches=args.patches,
                          fragments=fragments, jobs=args.jobs)
    print(kernel.image.parent)
    return 0
