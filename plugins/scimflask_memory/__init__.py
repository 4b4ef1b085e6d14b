"""Built-in memory storage plugin."""
