"""Where the tests find the project's shared public data.

The shared folder lies beside the checkout (``../shared``), on a developer's
machine and in CI alike; ``ARSC_SHARED`` points elsewhere. Tests that need
the full data sets skip with a message when it is absent.
"""

import os
from pathlib import Path

#: The checkout (pyproject.toml, scripts/, .ci/).
ROOT = Path(__file__).resolve().parents[1]
#: The small data sets the tests ship (tests/data, each with its PROVENANCE.md).
DATA = Path(__file__).resolve().parent / "data"

SHARED = Path(os.environ.get("ARSC_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
SAC_HOER = SHARED / "data" / "sac-hoer"
