"""The storage conformance kit for plugin authors (opt in with pytest_plugins)."""
