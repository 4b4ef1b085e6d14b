"""Built-in Redis storage plugin: `redis://`, `rediss://`, `unix://`, `redis+unix://`,
`redis+sentinel://` and `redis+cluster://` URIs (see `scimflask_redis.connect`)."""

from scimflask import hookimpl

from .storage import RedisStorage

__all__ = ["RedisStorage"]


@hookimpl
def scimflask_register_storage(registry):
    registry.add(RedisStorage)
