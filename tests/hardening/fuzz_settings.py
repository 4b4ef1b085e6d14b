"""How hard the fuzz tests try: small in the default run, large in the long mode.

`SCIMFLASK_FUZZ_EXAMPLES=5000 pytest tests/hardening` multiplies every bounded example count
(see README.md in this directory).
"""

from __future__ import annotations

import os

LONG_MODE_EXAMPLES = int(os.environ.get("SCIMFLASK_FUZZ_EXAMPLES", "0") or 0)


def examples(default: int) -> int:
    """`default` examples normally; SCIMFLASK_FUZZ_EXAMPLES in the long mode."""
    return max(default, LONG_MODE_EXAMPLES)
