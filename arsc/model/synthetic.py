"""Synthetic training tables drawn from known parameters (for tests and benchmarks).

The parameters below are arbitrary test values chosen to look like ORR
adsorption energies; they are not results. A table made here has every
column a real model table has, so fitting it and comparing with
:data:`SYNTHETIC_PARAMS` tests parameter recovery.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from arsc.elements import AUTHORS_METALS
from arsc.model.terms import DEFAULT_FORMULA, Descriptor, Design, param_arrays, predict_dg

#: Known parameters per intermediate (a, b, p in eV; exponents dimensionless).
#: In the Box-Cox form a + b (phi**beta - 1) / beta of the R term; the same tables as the
#: power-law values a + b phi**beta with (a, b) = (0.3, 0.9), (1.0, 1.6), (3.2, 0.6).
SYNTHETIC_PARAMS: dict[str, dict[str, float]] = {
    "OH": {"a": 1.2, "b": 0.54, "beta": 0.6, "gamma": 0.4, "c_N": 0.3, "c_C": 0.8},
    "O": {"a": 2.6, "b": 0.8, "beta": 0.5, "gamma": 0.7, "c_N": 0.2, "c_C": 0.5},
    "OOH": {"a": 3.8, "b": 0.42, "beta": 0.7, "gamma": 0.3, "c_N": 0.4, "c_C": 0.9},
}
#: First-shell (N, C) counts a synthetic metal may have; the first is the reference.
ENVIRONMENTS: tuple[tuple[int, int], ...] = ((4, 0), (3, 1), (2, 2), (1, 3), (0, 4))


def make_synthetic_table(
    params: Mapping[str, Mapping[str, float]] | None = None,
    metals: Sequence[str] = AUTHORS_METALS,
    sites: int = 150,
    noise: float = 0.02,
    seed: int = 0,
    formula: str = DEFAULT_FORMULA,
    elements: str = "default",
    target: str = "dG",
) -> pd.DataFrame:
    """Draw a training table from known parameters.

    Every metal gets one homonuclear row in the reference environment (N4),
    then ``sites`` random ordered pairs with random first-shell (N, C) counts
    per metal from :data:`ENVIRONMENTS`; each site appears once per
    intermediate.

    Parameters
    ----------
    params
        Named parameters per intermediate (default :data:`SYNTHETIC_PARAMS`).
    metals
        Metals to draw from.
    sites
        Random sites besides the homonuclear reference ones.
    noise
        Standard deviation of the Gaussian noise added to dG, eV.
    seed
        Random seed.
    formula, elements
        A term of the generating model.
    target
        Name of the dG column.

    Returns
    -------
    pandas.DataFrame
        Columns metal1, metal2, coord_N1, coord_C1, coord_N2, coord_C2,
        intermediate and ``target`` (eV).
    """
    params = SYNTHETIC_PARAMS if params is None else params
    rng = np.random.default_rng(seed)
    m = np.array(metals)
    first = np.concatenate([m, rng.choice(m, sites)])
    second = np.concatenate([m, rng.choice(m, sites)])
    env = np.array(ENVIRONMENTS)
    e1 = np.concatenate([np.zeros(len(m), int), rng.integers(0, len(env), sites)])
    e2 = np.concatenate([np.zeros(len(m), int), rng.integers(0, len(env), sites)])
    sites_table = pd.DataFrame(
        {
            "metal1": first,
            "metal2": second,
            "coord_N1": env[e1, 0],
            "coord_C1": env[e1, 1],
            "coord_N2": env[e2, 0],
            "coord_C2": env[e2, 1],
        }
    )
    descriptor = Descriptor.from_formula(formula, elements)
    design = Design.from_counts(
        descriptor.index(first),
        descriptor.index(second),
        sites_table[["coord_N1", "coord_C1"]].to_numpy(float),
        sites_table[["coord_N2", "coord_C2"]].to_numpy(float),
        np.array(ENVIRONMENTS[0], dtype=float),
    )
    names = list(params)
    arrays = param_arrays([params[z] for z in names], ("N", "C"))
    dg = predict_dg(design, descriptor, arrays, ("N", "C"))[0]
    parts = []
    for k, z in enumerate(names):
        part = sites_table.assign(intermediate=z)
        part[target] = dg[:, k] + rng.normal(0.0, noise, len(part))
        parts.append(part)
    return pd.concat(parts, ignore_index=True)
