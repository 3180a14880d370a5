"""The pytest plugin lets a kernel build's progress past output capture."""

from harness.paths import REPO_ROOT

pytest_plugins = ["pytester"]

INNER = '''
import sys
from harness.kernel.build import Builder
from harness.pytest_plugin import shown

def test_progress(request):
    print("CAPTURED-LINE", file=sys.stderr)
    builder = Builder.__new__(Builder)
    builder.out = None                  # build_kernel's default
    with shown(request.config):
        builder.say("LIVE-LINE")
    assert False, "fail, so that the captured output is reported"
'''


def test_build_progress_reaches_the_terminal_while_captured(pytester, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO_ROOT))
    pytester.makepyfile(INNER)
    result = pytester.runpytest_subprocess("-p", "harness.pytest_plugin")
    result.assert_outcomes(failed=1)
    assert "build: LIVE-LINE" in result.stderr.str()
    report = result.stdout.str()
    # The report quotes the test's source, so match what was printed.
    assert "Captured stderr call" in report and "build: LIVE-LINE" not in report
