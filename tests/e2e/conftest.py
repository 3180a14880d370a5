"""End-to-end tests that boot guests. DAMON's behaviour is judged in
scenarios (tests/scenarios/*.yaml, collected by harness.pytest_plugin);
the tests here check the harness's own machinery on real guests."""
