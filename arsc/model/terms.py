"""The ARSC equations: atomic (A), synergy (S), coordination (C) and reactant (R) terms.

For a site with binding metal x (``metal1``) and partner y (``metal2``) and
intermediate z, with first-shell counts n_e(x) of element e bound to x:

A   phi_xx = f(x) / s                      (f: a PFESS formula, s > 0 fixed scale)
    or phi_xx = (f(x) - f_min) / s + shift  when f <= 0 for some metal
C   C(x) = prod_e ((1 + n_e(x)) / (1 + n_e_ref)) ** c_e         c_e >= 0
S   phi = (phi_xx C(x)) ** (1 / (1 + gamma)) * (phi_yy C(y)) ** (gamma / (1 + gamma))
R   dG_z = a + b * (phi ** beta - 1) / beta                      beta >= 0 (ln phi at 0)

and the optional extension terms of the variants (:data:`VARIANTS`):

coord-metal   c_e(x) = c_e * phi_xx ** kappa  (the coordination effect depends on the metal)
pair          dG_z += p * |ln phi_xx - ln phi_yy|  (a pair interaction)

Every function evaluates P parameter sets at once (arrays of shape (P,)),
which serves both the fit (P = 1) and fast scoring of an ensemble over many
intermediates (P = intermediates x members).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from arsc.elements import d_block, load_elements
from arsc.errors import ArscInputError, unknown
from arsc.features import evaluate

#: The PFESS demo's best 1-D formula (R^2 = 0.924 on the 56 demo pairs), the default A term.
DEFAULT_FORMULA = "abs(Rx - Rx**2) * Sx / nx**2"

#: Box constraints of the non-linear parameters (dimensionless). Exponents are >= 0.
BOUNDS: dict[str, tuple[float, float]] = {
    "beta": (0.0, 6.0),
    "gamma": (0.0, 99.0),
    "kappa": (-4.0, 4.0),
    "shift": (1e-3, 10.0),
    "c": (0.0, 4.0),
}
#: Parameters that enter linearly (eV); solved exactly for each trial of the others.
LINEAR: tuple[str, ...] = ("a", "b", "p")


@dataclass(frozen=True)
class Variant:
    """A model variant: the base ARSC form plus optional named extension terms."""

    name: str
    description: str
    pair: bool = False
    coord_metal: bool = False
    hierarchical: bool = False

    @property
    def extra_terms(self) -> int:
        """Number of extension terms (the complexity used to prefer simpler variants)."""
        return int(self.pair) + int(self.coord_metal) + 2 * int(self.hierarchical)


#: Variant registry; ``compare_variants`` fits each and reports held-out errors side by side.
VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("base", "A, S, C and R terms as in the project's reconstruction"),
        Variant(
            "coord-metal",
            "base + metal-dependent coordination exponents c_e * phi_xx**kappa",
            coord_metal=True,
        ),
        Variant("pair", "base + pair interaction p * |ln phi_xx - ln phi_yy|", pair=True),
        Variant("full", "base + both extension terms", pair=True, coord_metal=True),
        Variant(
            "hier",
            "A, S, C, R terms that learn per metal with shrinkage to the intrinsic prior "
            "(arsc.model.hier); site-resolved first shell and motif",
            hierarchical=True,
        ),
    )
}
#: The variant ``arsc fit`` uses unless told otherwise (best held-out error on the shipped data).
DEFAULT_VARIANT = "hier"


def get_variant(name: str) -> Variant:
    """Look a variant up by name; raises ArscInputError naming the allowed ones."""
    if name not in VARIANTS:
        raise unknown("model variant", name, VARIANTS)
    return VARIANTS[name]


@dataclass(frozen=True)
class Descriptor:
    """The A term: phi_xx of every metal of an element table, from one formula.

    Attributes
    ----------
    formula
        PFESS formula (see :mod:`arsc.features`), evaluated with y = x.
    symbols
        Metals, in lookup order.
    raw
        Formula value f per metal (NaN where undefined).
    scale
        Fixed positive divisor s (median of f, or its range when shifted).
    low
        Subtracted before scaling (the smallest f when shifted, else 0).
    shifted
        Whether phi_xx = (f - low) / s + shift with a fitted ``shift`` > 0
        (needed when f <= 0 for some metal, so that powers are defined).
    """

    formula: str
    symbols: tuple[str, ...]
    raw: np.ndarray
    scale: float
    low: float
    shifted: bool

    @classmethod
    def from_formula(cls, formula: str, elements: str | pd.DataFrame = "default") -> Descriptor:
        """Evaluate ``formula`` once per metal of the element table."""
        table = load_elements(elements) if isinstance(elements, str) else elements
        symbols = tuple(str(s) for s in table.index)
        raw = evaluate(formula, symbols, symbols, table)
        raw = np.where(np.isfinite(raw), raw, np.nan)
        return cls.from_values(formula, symbols, raw, scale_from=d_block(table))

    @classmethod
    def from_values(
        cls,
        formula: str,
        symbols: Sequence[str],
        raw: np.ndarray,
        scale_from: np.ndarray | None = None,
    ) -> Descriptor:
        """Build from stored formula values (chooses scale and shift as documented).

        ``scale_from`` marks the metals whose values set the scale (default: all);
        :meth:`from_formula` uses the d-block transition metals, so that
        main-group and f-block metals in a table do not move it.
        """
        use = np.isfinite(raw) if scale_from is None else np.isfinite(raw) & scale_from
        if not use.any():
            use = np.isfinite(raw)
        finite = raw[use]
        if finite.size == 0:
            raise ArscInputError(f"formula {formula!r} is undefined for every metal")
        every = raw[np.isfinite(raw)]
        shifted = bool((every <= 0).any())
        low = float(every.min()) if shifted else 0.0
        scale = float(every.max() - low) if shifted else float(np.median(finite))
        if not scale > 0:
            raise ArscInputError(f"formula {formula!r} is the same for every metal")
        return cls(formula, tuple(symbols), np.asarray(raw, dtype=float), scale, low, shifted)

    def index(self, metals: Sequence[str] | np.ndarray, where: str = "table") -> np.ndarray:
        """Lookup positions of metal symbols (ArscInputError for an unknown one)."""
        pos = {s: i for i, s in enumerate(self.symbols)}
        inverse, uniq = pd.factorize(np.asarray(metals))
        idx = np.empty(len(uniq), dtype=np.intp)
        for k, sym in enumerate(uniq.tolist()):
            if sym not in pos:
                raise ArscInputError(
                    f"unknown metal {sym!r} in the {where}; allowed: {', '.join(self.symbols)}"
                )
            idx[k] = pos[sym]
        return idx[inverse]

    def log_phi_xx(self, shift: np.ndarray) -> np.ndarray:
        """Return ln phi_xx per metal and parameter set, shape (metals, P); NaN where undefined."""
        shift = np.asarray(shift, dtype=float)
        base = ((self.raw - self.low) / self.scale)[:, None] + (
            shift if self.shifted else 0 * shift
        )
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.log(np.where(base > 0, base, np.nan))


@dataclass(frozen=True)
class Design:
    """Per-row inputs of the equations.

    Attributes
    ----------
    i1, i2
        Lookup positions (in :attr:`Descriptor.symbols`) of metal 1 and metal 2.
    env1, env2
        ln((1 + n_e) / (1 + n_e_ref)) per row and coordination element, shape (rows, m).
    """

    i1: np.ndarray
    i2: np.ndarray
    env1: np.ndarray
    env2: np.ndarray

    def __len__(self) -> int:
        return len(self.i1)

    def take(self, rows: np.ndarray) -> Design:
        """Design of a subset (or resample) of the rows."""
        return Design(self.i1[rows], self.i2[rows], self.env1[rows], self.env2[rows])

    @classmethod
    def from_counts(
        cls, i1: np.ndarray, i2: np.ndarray, c1: np.ndarray, c2: np.ndarray, reference: np.ndarray
    ) -> Design:
        """Build from coordination counts and the reference environment."""
        ref = np.log1p(np.asarray(reference, dtype=float))[None, :]
        return cls(i1, i2, np.log1p(c1) - ref, np.log1p(c2) - ref)


def coord_param(element: str) -> str:
    """Name of the coordination exponent of a first-shell element ("c_N")."""
    return f"c_{element}"


def param_arrays(
    sets: Sequence[Mapping[str, float]], coord_elements: Sequence[str]
) -> dict[str, np.ndarray]:
    """Stack P named parameter sets into arrays of shape (P,) (absent extension terms = 0)."""
    names = ["a", "b", "beta", "gamma", "shift", "kappa", "p"]
    names += [coord_param(e) for e in coord_elements]
    return {n: np.array([float(s.get(n, 0.0)) for s in sets]) for n in names}


def basis(
    design: Design,
    lxx: np.ndarray,
    params: Mapping[str, np.ndarray],
    coord_elements: Sequence[str],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Non-linear parts of the model for P parameter sets.

    Parameters
    ----------
    design
        Row inputs.
    lxx
        ln phi_xx per metal and set, shape (metals, P), from :meth:`Descriptor.log_phi_xx`.
    params
        Arrays of shape (P,) from :func:`param_arrays`.
    coord_elements
        Coordination elements, in the column order of ``design.env1``.

    Returns
    -------
    tuple of numpy.ndarray
        ``g = T_beta(phi) = (phi ** beta - 1) / beta`` (ln phi at beta = 0),
        ``q = |ln phi_xx - ln phi_yy|`` and ``ln phi``, each of shape (rows, P);
        dG = a + b g + p q.
    """
    l1, l2 = lxx[design.i1], lxx[design.i2]
    if coord_elements:
        cmat = np.stack([params[coord_param(e)] for e in coord_elements])
        k1, k2 = design.env1 @ cmat, design.env2 @ cmat
        kappa = params["kappa"]
        if np.any(kappa != 0):
            k1 = k1 * np.exp(kappa * l1)
            k2 = k2 * np.exp(kappa * l2)
        l1c, l2c = l1 + k1, l2 + k2
    else:
        l1c, l2c = l1, l2
    w2 = params["gamma"] / (1.0 + params["gamma"])
    log_phi = (1.0 - w2) * l1c + w2 * l2c
    return boxcox(log_phi, params["beta"]), np.abs(l1 - l2), log_phi


def boxcox(log_phi: np.ndarray, beta: np.ndarray | float) -> np.ndarray:
    """T_beta(phi) = (phi**beta - 1) / beta from ln phi, elementwise in beta (ln phi at beta = 0).

    The Box-Cox form keeps a and b finite as beta -> 0, where the plain
    power law a + b phi**beta degenerates into a log with two huge,
    cancelling coefficients.
    """
    beta = np.asarray(beta, dtype=float)
    small = beta < 1e-9
    safe = np.where(small, 1.0, beta)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.where(small, log_phi, np.expm1(safe * log_phi) / safe)


def inverse_boxcox(value: np.ndarray | float, beta: float) -> np.ndarray:
    """Return phi with T_beta(phi) = value (NaN outside the range of T_beta)."""
    value = np.asarray(value, dtype=float)
    if beta < 1e-9:
        return np.exp(value)
    base = 1.0 + beta * value
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(base > 0, np.power(np.where(base > 0, base, 1.0), 1.0 / beta), np.nan)


def log_phi_coefficients(
    params: Mapping[str, np.ndarray], coord_elements: Sequence[str]
) -> np.ndarray:
    """Coefficients W with ln phi = [l1, l2 - l1, env1, env2] @ W for P parameter sets.

    Here l1, l2 are ln phi_xx of the two metals. The S and C terms are
    linear in these features when the A term has no shift and kappa = 0
    (the caller checks), so scoring many parameter sets is one matrix
    product.

    Returns
    -------
    numpy.ndarray
        Shape (2 + 2 m, P) for m coordination elements.
    """
    w2 = params["gamma"] / (1.0 + params["gamma"])
    rows = [np.ones_like(w2), w2]
    cs = [params[coord_param(e)] for e in coord_elements]
    rows += [c * (1.0 - w2) for c in cs] + [c * w2 for c in cs]
    return np.stack(rows)


def predict_dg(
    design: Design,
    descriptor: Descriptor,
    params: Mapping[str, np.ndarray],
    coord_elements: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """Return dG (eV) and phi for P parameter sets, each of shape (rows, P)."""
    lxx = descriptor.log_phi_xx(params["shift"])
    g, q, log_phi = basis(design, lxx, params, coord_elements)
    dg = params["a"] + params["b"] * g + params["p"] * q
    return dg, np.exp(log_phi)


def phi_opt(params: Mapping[str, float], dg_opt: float | None) -> float | None:
    """Solve a + b T_beta(phi) = dG_opt for phi (None where there is no positive solution).

    With the pair variant the pair term is left out (it vanishes on
    homonuclear sites); the hierarchical variant's per-metal terms are too.
    """
    if dg_opt is None:
        return None
    a, b, beta = params["a"], params["b"], max(params.get("beta", 0.0), 0.0)
    if b == 0:
        return None
    value = float(inverse_boxcox((dg_opt - a) / b, beta))
    return value if np.isfinite(value) and value > 0 else None
