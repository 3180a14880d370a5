# The README's two commands are `make run` and `make test`.
.PHONY: setup run test test-long test-unit bench-test bench-boot bench-build bench-suite bench-judge bench-selftests bench-compare bench-stability bench-reproduce bench-runner bench-matrix reproduce

setup:
	@scripts/setup.sh >/dev/null

# The main job: show what the guest sees, then run the default scenario suite.
run: setup
	./damon-harness boot
	./damon-harness run

# Two lanes (pytest-xdist): tests whose verdicts do not depend on timing share
# the cores; the others take the host alone (harness/pytest_plugin.py).
LANES = -n 2 --dist loadfile --no-loadscope-reorder

test: setup
	scripts/run-tests tests -m "not long" $(LANES) --durations=40

# Every reproduction of a published result (about 25 minutes).
reproduce: setup
	./damon-harness reproduce

# Long end-to-end runs that do not fit make test's 60 minutes.
test-long: setup
	scripts/run-tests tests -m long $(LANES)

test-unit: setup
	scripts/run-tests tests/unit -q $(LANES)

# make test as CI runs it, on a fresh clone and an empty cache: time, kernels, slowest tests.
bench-test: setup
	$$(scripts/setup.sh) benchmarks/test_bench.py --fresh-cache

bench-boot: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/boot_bench.py

bench-suite: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/suite_bench.py

bench-build: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/build_bench.py --fresh-cache

bench-judge: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/judge_bench.py

bench-selftests: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/selftests_bench.py

bench-compare: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/compare_bench.py

# RUNS=N SCENARIOS="a b": how often each passes with no rerun (default: 20 runs of the 4 core ones)
bench-stability: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/stability_bench.py --runs $(or $(RUNS),20) $(SCENARIOS)

bench-reproduce: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/reproduce_bench.py

bench-matrix: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/matrix_bench.py $(if $(KERNELS),--kernels $(KERNELS)) $(SCENARIOS)

bench-runner: setup
	PYTHONPATH=. $$(scripts/setup.sh) benchmarks/runner_bench.py
