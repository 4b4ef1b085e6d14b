"""The `scimflask` command line: `serve`, `token`, `tenant`, `log`, `migrate`, `export`, `import`.

Errors end as one or two lines naming the cause and the fix (exit status 2 for configuration, 1
at run time; `--debug` shows the traceback), see `errors`. The commands other than `serve` are
shared with `flask scim` (see `flask_commands`). The group is `scimflask.cli.main.main`; this
package module imports nothing, so a host app's `flask scim` commands load without `serve`.
"""
