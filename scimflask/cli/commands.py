"""The commands both command lines offer: `scimflask …` and, inside a host app, `flask scim …`."""

from __future__ import annotations

from . import data, log, tenants, tokens

SHARED_COMMANDS = (tokens.token, tenants.tenant, log.provisioning_log,
                   data.migrate_command, data.export_command, data.import_command, data.reindex_command)
