"""--cluster ssh://... and cluster files: what they start, and how. (A
cluster started through a real sshd is tests/e2e/test_dask.py.)"""

import shlex

import yaml

from harness.dask_ssh import ClusterFile, cluster_spec, worker_command
from harness.paths import REPO_ROOT


def test_an_address_starts_nothing_and_ssh_hosts_get_one_vm_each():
    assert cluster_spec("tcp://lab1:8786") is None
    spec = cluster_spec("ssh://lab1,me@lab2:2222")
    assert spec.hosts == {"lab1": 1, "me@lab2:2222": 1}
    assert spec.checkout == str(REPO_ROOT) and spec.ssh == [] and spec.env == {}


def test_a_cluster_file_says_hosts_checkout_ssh_options_and_env(tmp_path):
    lab = tmp_path / "lab.yaml"
    lab.write_text(yaml.safe_dump({"hosts": {"lab1": 2, "me@lab2:2222": 1},
                                   "checkout": "/srv/damon harness", "ssh": ["-i", "k"],
                                   "scheduler_host": "build1", "env": {"A_B": 3}}))
    spec = cluster_spec(str(lab))
    assert spec == ClusterFile({"lab1": 2, "me@lab2:2222": 1}, "/srv/damon harness",
                               ["-i", "k"], "build1", {"A_B": "3"})


def test_a_worker_runs_in_the_hosts_checkout_with_its_vm_slots():
    spec = ClusterFile({"me@lab2:2222": 2}, "/srv/damon harness", ["-i", "k"], "", {"A": "1"})
    argv = worker_command(spec, "me@lab2:2222", 2, "tcp://build1:9000")
    assert argv[:2] == ["ssh", "-tt"] and argv[-4:-2] == ["-i", "k"]
    assert argv[-2] == "ssh://me@lab2:2222"
    remote = shlex.split(argv[-1])
    assert remote[:2] == ["cd", "/srv/damon harness"]
    assert "PYTHONPATH=/srv/damon harness" in remote and "A=1" in remote
    tail = remote[remote.index("distributed.cli.dask_worker"):]
    assert tail[1] == "tcp://build1:9000" and "VM=2" in tail and "--death-timeout" in tail
