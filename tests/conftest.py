pytest_plugins = ["harness.pytest_plugin"]


def pytest_collection_modifyitems(items):
    """Early builds first, then the tests that boot no VM (a broken unit
    fails in seconds, not after an hour of guests), then the guests that
    may share the host's cores, then those that run alone. The order within
    each group is kept."""
    from harness.pytest_plugin import start_rank
    items.sort(key=start_rank)
