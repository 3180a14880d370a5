"""damon-harness command line: subcommands live in harness/commands/."""

import argparse
import atexit
import importlib
import signal
import sys

from harness.errors import HarnessError
from harness.vm.process import kill_all
from harness.verdict import RunEnded

COMMANDS = ["boot", "build", "run", "judge", "compare", "bisect", "reproduce", "selftests", "kunit", "cache"]


class OneLineParser(argparse.ArgumentParser):
    """Usage errors as one line and exit status 2, like every other bad input."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def make_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="damon-harness",
                           description="Boot kernels in QEMU and check what DAMON does.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND",
                                       parser_class=OneLineParser)
    subparsers.required = True
    for name in COMMANDS:
        importlib.import_module(f"harness.commands.{name}").register(subparsers)
    return parser


def _terminate(signum, _frame):
    raise SystemExit(128 + signum)


def main(argv=None) -> int:
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    # A shell without job control starts background commands with SIGINT
    # ignored, and Python keeps it so: `kill -INT` then left the harness and
    # its QEMU running (make test's SIGINT case, run from such a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    atexit.register(kill_all)
    argv = list(sys.argv[1:] if argv is None else argv)
    guest_cmd = []
    if "--" in argv:
        split = argv.index("--")
        argv, guest_cmd = argv[:split], argv[split + 1:]
    args = make_parser().parse_args(argv)
    args.guest_cmd = guest_cmd
    try:
        return args.func(args)
    except RunEnded as ended:
        print(f"damon-harness: {ended}", file=sys.stderr)
        if ended.excerpt:
            print("--- console excerpt ---\n" + ended.excerpt, file=sys.stderr)
        return ended.exit_code
    except HarnessError as exc:
        print(f"damon-harness: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("damon-harness: interrupted", file=sys.stderr)
        return 130
    finally:
        kill_all()
