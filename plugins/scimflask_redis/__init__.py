"""Built-in redis storage plugin."""
