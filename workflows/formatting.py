"""Number formatting shared by the command line and the report."""

from __future__ import annotations

import math


def significant(value: float | None, missing: str = "–") -> str:
    """Return ``value`` with three significant digits and no exponent from 100 up.

    Core-hours span 1e-4 (an MLIP run) to 1e4 (an exhaustive DFT screen):
    ``0.000654``, ``0.322``, ``62.3``, ``1,990``. ``missing`` stands for None or
    a non-finite value.

    Examples
    --------
    >>> significant(1990.4), significant(0.0322), significant(None, "-")
    ('1,990', '0.0322', '-')
    """
    if value is None or not math.isfinite(value):
        return missing
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"
