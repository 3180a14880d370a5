pytest_plugins = ["harness.pytest_plugin"]


def pytest_collection_modifyitems(items):
    """Tests that boot no VM first: a broken unit fails in seconds, not after
    an hour of guests. The order within each group is kept."""
    items.sort(key=lambda item: item.get_closest_marker("vm") is not None)
