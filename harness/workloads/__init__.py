"""Workload programs (C), built statically on the host and uploaded to guests."""
