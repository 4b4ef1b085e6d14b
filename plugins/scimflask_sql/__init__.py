"""Built-in sql storage plugin."""
