"""Run the ``arsc`` CLI with the FAKE test engine registered (for subprocess tests).

``python -m tests.workflows.fake_cli run SITE --engine fake ...`` from the
repository root. The fake engine is a seam for orchestration tests, not a DFT
stand-in (see :mod:`tests.workflows.fake_engine`).
"""

from __future__ import annotations

import sys

from tests.workflows import fake_engine
from workflows.cli.main import main

fake_engine.install()

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
