"""`python -m scimflask` is the `scimflask` command."""

from .cli.main import main

main()
