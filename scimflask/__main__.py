"""`python -m scimflask` is the `scimflask` command."""

from .cli import main

main()
