"""Defaults and bounds of user-given numbers that the command line shows before any work.

This module imports nothing heavy, so that ``arsc VERB --help`` and option
checks answer at once; the modules that use the numbers import them from here.
"""

from __future__ import annotations

#: Minimum distance between a metal and any periodic image of a metal, Angstrom.
MIN_IMAGE_DISTANCE = 10.0
#: Allowed range of ``min_image``, Angstrom: below 5 A the pocket meets its own
#: images; 40 A already gives cells of about 700 atoms, far beyond DFT.
MIN_IMAGE_RANGE: tuple[float, float] = (5.0, 40.0)
#: Most atoms a supercell may hold (checked before it is built; the distance
#: checks hold a few (atoms x atoms x 3) arrays, about 100 MB at this size).
MAX_ATOMS = 2000
