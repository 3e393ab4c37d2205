"""d-band shape of a metal site from its d-projected density of states.

The moments follow the usual definitions (Hammer and Nørskov; Xin et al.,
Phys. Rev. B 89, 115114, 2014): for a d-projected DOS rho(E) and energies
measured from the Fermi level,

- centre ``c = int E rho dE / int rho dE``
- width ``w = sqrt(int (E - c)^2 rho dE / int rho dE)``
- skewness ``int (E - c)^3 rho dE / (w^3 int rho dE)``
- kurtosis ``int (E - c)^4 rho dE / (w^4 int rho dE)`` (3 for a Gaussian)
- upper edge ``c + 2 w``, and the Hilbert-transform edge: the energy where
  the Hilbert transform of rho is largest.

All integrals use :func:`numpy.trapezoid` on the grid given (non-uniform grids
are fine). By default the window is the whole grid; a user window is relative
to the Fermi level. The ARSC fit uses the spin-summed, full-band moments
(:attr:`DBandAnalysis.full`); see ``docs/dband.md``.

Examples
--------
>>> import numpy as np
>>> e = np.linspace(-10.0, 5.0, 3001)
>>> rho = np.exp(-0.5 * ((e + 2.0) / 1.0) ** 2)
>>> m = moments(e, rho, fermi=0.0)
>>> round(m.centre, 6), round(m.width, 6), round(m.kurtosis, 4)
(-2.0, 1.0, 3.0)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np
import pydantic
from numpy.typing import ArrayLike, NDArray
from scipy.signal import fftconvolve

from arsc.errors import ArscInputError

FloatArray = NDArray[np.float64]

#: Largest number of points of the uniform grid used for the Hilbert transform.
HILBERT_MAX_POINTS = 2**15


class DBandMoments(pydantic.BaseModel):
    """Shape of one d band (one spin channel or spin-summed; full or occupied)."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    filling: float = pydantic.Field(
        description="dimensionless, 0..1: fraction of the d states in the window that lie below "
        "the Fermi level; 1.0 for the occupied variant"
    )
    centre: float = pydantic.Field(
        description="eV, relative to the Fermi level: first moment of the d-DOS"
    )
    width: float = pydantic.Field(
        description="eV: square root of the second central moment of the d-DOS"
    )
    skewness: float = pydantic.Field(
        description="dimensionless: third standardised moment (0 for a symmetric band)"
    )
    kurtosis: float = pydantic.Field(
        description="dimensionless: fourth standardised moment (3 for a Gaussian band)"
    )
    upper_edge: float = pydantic.Field(
        description="eV, relative to the Fermi level: centre + 2 * width"
    )
    hilbert_edge: float | None = pydantic.Field(
        default=None,
        description="eV, relative to the Fermi level: energy of the maximum of the Hilbert "
        "transform of the d-DOS; None for the occupied variant (the cut at the Fermi level "
        "makes the transform diverge there)",
    )


class DBandAnalysis(pydantic.BaseModel):
    """d-band moments of one site: spin-summed and per spin, full band and occupied part."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    full: DBandMoments = pydantic.Field(
        description="spin-summed, whole band in the window (the variant the ARSC fit uses)"
    )
    occupied: DBandMoments = pydantic.Field(
        description="spin-summed, states in the window below the Fermi level only"
    )
    spin: list[DBandMoments] = pydantic.Field(
        description="per spin channel (up, down), whole band; one entry if not spin-polarised"
    )
    spin_occupied: list[DBandMoments] = pydantic.Field(
        description="per spin channel (up, down), states below the Fermi level only"
    )
    window: tuple[float, float] = pydantic.Field(
        description="eV, relative to the Fermi level: integration window (lower, upper)"
    )


def _as_float(values: ArrayLike, what: str) -> FloatArray:
    arr = np.asarray(values, dtype=float)
    if not np.all(np.isfinite(arr)):
        raise ArscInputError(f"{what} contains non-finite values (NaN or inf); all must be finite")
    return arr


def _check_energies(energies: ArrayLike) -> FloatArray:
    e = _as_float(energies, "energies")
    if e.ndim != 1 or e.size < 2:
        raise ArscInputError(
            f"energies must be a 1-D array of at least 2 points, got shape {e.shape}"
        )
    if np.any(np.diff(e) <= 0):
        i = int(np.argmax(np.diff(e) <= 0))
        raise ArscInputError(
            f"energies must be strictly increasing; energies[{i + 1}] = {e[i + 1]:g} "
            f"follows {e[i]:g}"
        )
    return e


def _check_dos(dos: ArrayLike, n: int, what: str = "dos") -> FloatArray:
    """Return the DOS as an (nspin, n) array after checking shape, finiteness and sign."""
    d = _as_float(dos, what)
    if d.ndim == 1:
        d = d[np.newaxis, :]
    if d.ndim != 2 or d.shape[1] != n or d.shape[0] not in (1, 2):
        raise ArscInputError(
            f"{what} has shape {np.shape(dos)}; expected ({n},) or (nspin, {n}) with nspin 1 or 2 "
            "to match the energies"
        )
    if np.any(d < 0):
        raise ArscInputError(
            f"{what} has negative values (lowest {d.min():g} states/eV); a DOS must be >= 0 "
            "(clip tetrahedron-method noise with np.clip(dos, 0, None) first if that is the cause)"
        )
    return d


def _check_window(window: tuple[float, float] | None, e: FloatArray) -> tuple[float, float]:
    """Return the window relative to E_F; the default is the whole grid (``e`` is relative)."""
    if window is None:
        return float(e[0]), float(e[-1])
    lo, hi = (float(w) for w in window)
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ArscInputError(
            f"window {window!r} must be two finite energies (eV, relative to E_F) "
            "with lower < upper"
        )
    return lo, hi


def _clip(e: FloatArray, d: FloatArray, lo: float, hi: float) -> tuple[FloatArray, FloatArray]:
    """Restrict (e, d) to [lo, hi], adding the interpolated DOS at the window edges."""
    lo, hi = max(lo, float(e[0])), min(hi, float(e[-1]))
    if lo >= hi:
        return np.empty(0), np.empty(0)
    inside = (e > lo) & (e < hi)
    grid = np.concatenate(([lo], e[inside], [hi]))
    return grid, np.interp(grid, e, d)


def _hilbert_edge(e: FloatArray, d: FloatArray) -> float:
    """Energy of the maximum of the Hilbert transform of ``d`` on its own energy range.

    The DOS is interpolated onto a uniform grid and convolved (linearly, not
    circularly) with the alternating-point principal-value kernel
    ``2 / (pi * (i - j))`` for odd ``i - j`` and 0 otherwise, which, unlike
    simply skipping the singular point, has no O(step) error; the maximum is
    refined with a parabola through the three points around it.
    """
    span = float(e[-1] - e[0])
    n = int(min(HILBERT_MAX_POINTS, np.ceil(span / float(np.min(np.diff(e)))) + 1))
    grid = np.linspace(float(e[0]), float(e[-1]), max(n, 3))
    step = grid[1] - grid[0]
    rho = np.interp(grid, e, d)
    offsets = np.arange(-(grid.size - 1), grid.size, dtype=float)
    odd = np.abs(offsets) % 2 == 1
    kernel = np.divide(2.0, np.pi * offsets, out=np.zeros_like(offsets), where=odd)
    transform = fftconvolve(rho, kernel)[grid.size - 1 : 2 * grid.size - 1]
    i = int(np.argmax(transform))
    if 0 < i < grid.size - 1:
        left, mid, right = transform[i - 1 : i + 2]
        curvature = left - 2.0 * mid + right
        if curvature < 0:
            return float(grid[i] + 0.5 * step * (left - right) / curvature)
    return float(grid[i])


def _moments_1d(
    e: FloatArray, d: FloatArray, *, occupied: bool, lo: float, hi: float
) -> DBandMoments:
    """Moments of one non-negative DOS ``d`` on energies ``e`` relative to E_F."""
    grid, rho = _clip(e, d, lo, min(hi, 0.0) if occupied else hi)
    weight = float(np.trapezoid(rho, grid)) if grid.size else 0.0
    if weight <= 0.0:
        variant = "occupied part" if occupied else "band"
        raise ArscInputError(
            f"the d {variant} has zero weight in the window ({lo:g}, {hi:g}) eV relative to E_F; "
            "widen the window or check the projection"
        )
    centre = float(np.trapezoid(grid * rho, grid)) / weight
    x = grid - centre
    var = float(np.trapezoid(x**2 * rho, grid)) / weight
    if var <= 0.0:
        raise ArscInputError(
            "the d band has zero width (all its weight on one grid point); use a finer grid "
            "or a smearing"
        )
    width = float(np.sqrt(var))
    skew = float(np.trapezoid(x**3 * rho, grid)) / weight / width**3
    kurt = float(np.trapezoid(x**4 * rho, grid)) / weight / width**4
    if occupied:
        filling = 1.0
    else:
        below_grid, below_rho = _clip(grid, rho, lo, 0.0)
        below = float(np.trapezoid(below_rho, below_grid)) if below_grid.size else 0.0
        filling = min(max(below / weight, 0.0), 1.0)
    return DBandMoments(
        filling=filling,
        centre=centre,
        width=width,
        skewness=skew,
        kurtosis=kurt,
        upper_edge=centre + 2.0 * width,
        hilbert_edge=None if occupied else _hilbert_edge(grid, rho),
    )


def moments(
    energies: ArrayLike,
    dos: ArrayLike,
    fermi: float = 0.0,
    *,
    occupied: bool = False,
    window: tuple[float, float] | None = None,
) -> DBandMoments:
    """Return the d-band moments of a d-projected DOS.

    Parameters
    ----------
    energies
        Shape (n,), eV, absolute (same reference as ``fermi``), strictly
        increasing; the grid may be non-uniform.
    dos
        Shape (n,), states/eV, >= 0: the d-projected DOS already summed over
        the d orbitals and the atoms of interest. A (nspin, n) array is summed
        over spins first.
    fermi
        Fermi level, eV, same reference as ``energies``.
    occupied
        If True, use only the states below the Fermi level (filling is then 1).
    window
        (lower, upper) in eV relative to the Fermi level; default: the whole
        grid. Only the part of the window inside the grid counts.

    Returns
    -------
    DBandMoments
        Energies relative to the Fermi level.

    Raises
    ------
    ArscInputError
        Shape mismatch, negative or non-finite values, unsorted energies, an
        empty window or zero weight in it.
    """
    e = _check_energies(energies) - float(fermi)
    d = _check_dos(dos, e.size).sum(axis=0)
    lo, hi = _check_window(window, e)
    return _moments_1d(e, d, occupied=occupied, lo=lo, hi=hi)


def analyse(
    energies: ArrayLike,
    pdos: ArrayLike,
    fermi: float = 0.0,
    *,
    window: tuple[float, float] | None = None,
) -> DBandAnalysis:
    """Return the full set of d-band moments: spin-summed and per spin, full and occupied.

    Parameters
    ----------
    energies
        Shape (n,), eV, absolute, strictly increasing.
    pdos
        Shape (n,) or (nspin, n) with nspin 1 or 2, states/eV: d-projected DOS
        summed over the d orbitals and the atoms of interest.
    fermi
        Fermi level, eV, same reference as ``energies``.
    window
        (lower, upper) in eV relative to the Fermi level; default: the whole grid.

    Returns
    -------
    DBandAnalysis
        ``full`` (spin-summed, whole band) is the variant the ARSC model uses.

    Examples
    --------
    >>> import numpy as np
    >>> e = np.linspace(-8.0, 4.0, 1201)
    >>> up = np.exp(-0.5 * (e + 2.0) ** 2)
    >>> a = analyse(e, np.stack([up, up]), fermi=0.0)
    >>> round(a.full.centre, 6), len(a.spin)
    (-2.0, 2)
    """
    e = _check_energies(energies) - float(fermi)
    d = _check_dos(pdos, e.size, "pdos")
    lo, hi = _check_window(window, e)
    total = d.sum(axis=0)
    return DBandAnalysis(
        full=_moments_1d(e, total, occupied=False, lo=lo, hi=hi),
        occupied=_moments_1d(e, total, occupied=True, lo=lo, hi=hi),
        spin=[_moments_1d(e, s, occupied=False, lo=lo, hi=hi) for s in d],
        spin_occupied=[_moments_1d(e, s, occupied=True, lo=lo, hi=hi) for s in d],
        window=(lo, hi),
    )


class VaspDos(NamedTuple):
    """d-projected DOS read from a VASP output file."""

    energies: FloatArray
    """Shape (n,), eV, absolute."""
    fermi: float
    """Fermi level, eV, absolute."""
    d: FloatArray
    """Shape (natoms, nspin, n), states/eV: d-projected DOS per atom, summed over d orbitals."""


def _read_vasprun(path: Path) -> VaspDos:
    """Read the d-projected DOS of every atom from a vasprun.xml with pymatgen."""
    from pymatgen.electronic_structure.core import Orbital, OrbitalType, Spin
    from pymatgen.io.vasp.outputs import Vasprun

    try:
        run = Vasprun(
            str(path), parse_potcar_file=False, parse_eigen=False, parse_projected_eigen=False
        )
    except Exception as exc:  # pymatgen raises many types for a malformed file
        raise ArscInputError(f"cannot read {str(path)!r} as vasprun.xml: {exc}") from exc
    if getattr(run, "dos_has_errors", True) or not run.pdos or run.efermi is None:
        raise ArscInputError(f"{str(path)!r} has no projected DOS; run VASP with LORBIT = 10 or 11")

    def is_d(orb: Orbital | OrbitalType) -> bool:
        return (orb if isinstance(orb, OrbitalType) else orb.orbital_type) == OrbitalType.d

    spins = [s for s in (Spin.up, Spin.down) if s in run.tdos.densities]
    d = np.array(
        [
            [sum(np.asarray(dens[s]) for orb, dens in site.items() if is_d(orb)) for s in spins]
            for site in run.pdos
        ],
        dtype=float,
    )
    return VaspDos(np.asarray(run.tdos.energies, dtype=float), float(run.efermi), d)


#: d columns of an atom block of a collinear DOSCAR by number of columns (energy is
#: column 0): ISPIN 1 or 2, LORBIT 10 (s p d [f]) or 11 (lm-resolved, s p d [f]).
DOSCAR_D_COLUMNS: dict[int, tuple[tuple[int, ...], ...]] = {
    4: ((3,),),  # ISPIN 1, LORBIT 10, s p d
    5: ((3,),),  # ISPIN 1, LORBIT 10, s p d f
    7: ((5,), (6,)),  # ISPIN 2, LORBIT 10, s p d
    9: ((5,), (6,)),  # ISPIN 2, LORBIT 10, s p d f
    10: ((5, 6, 7, 8, 9),),  # ISPIN 1, LORBIT 11: s py pz px dxy dyz dz2 dxz dx2
    17: ((5, 6, 7, 8, 9),),  # ISPIN 1, LORBIT 11 with f
    19: ((9, 11, 13, 15, 17), (10, 12, 14, 16, 18)),  # ISPIN 2, LORBIT 11, up/down pairs
    33: ((9, 11, 13, 15, 17), (10, 12, 14, 16, 18)),  # ISPIN 2, LORBIT 11 with f
}

#: One Fortran number; VASP may write two without a space between them ("0.1E+01-0.2E+01").
_FLOAT = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:E[-+]?\d+)?")


def _doscar_block(lines: list[str], start: int, nedos: int, path: Path) -> FloatArray:
    rows = [_FLOAT.findall(line.upper().replace("D", "E")) for line in lines[start : start + nedos]]
    if len(rows) < nedos or len({len(r) for r in rows}) != 1:
        raise ArscInputError(
            f"{str(path)!r}: truncated or ragged DOSCAR block at line {start + 1} "
            f"(expected {nedos} rows of equal length)"
        )
    return np.array(rows, dtype=float)


def _read_doscar(path: Path) -> VaspDos:
    """Read the d-projected DOS of every atom from a collinear VASP DOSCAR (LORBIT 10/11).

    pymatgen reads only LOBSTER's DOSCAR, and ASE's ``VaspDos`` ignores the
    Fermi level in the file, so this small reader follows the format on the
    VASP wiki (DOSCAR page): 5 header lines; then per block a line
    ``EMAX EMIN NEDOS EFERMI weight`` and NEDOS rows; block 0 is the total DOS,
    then one block per atom.
    """
    lines = path.read_text().splitlines()
    try:
        natoms = int(lines[0].split()[0])
        nedos = int(float(lines[5].split()[2]))
        efermi = float(lines[5].split()[3])
    except (IndexError, ValueError) as exc:
        raise ArscInputError(f"{str(path)!r} is not a VASP DOSCAR (bad header: {exc})") from exc
    total = _doscar_block(lines, 6, nedos, path)
    start = 6 + nedos + 1
    if len(lines) < start + natoms * (nedos + 1) - 1:
        raise ArscInputError(
            f"{str(path)!r} has no projected DOS for its {natoms} atoms; run VASP with "
            "LORBIT = 10 or 11"
        )
    blocks = [_doscar_block(lines, start + i * (nedos + 1), nedos, path) for i in range(natoms)]
    ncol = blocks[0].shape[1]
    if ncol not in DOSCAR_D_COLUMNS:
        raise ArscInputError(
            f"{str(path)!r}: atom blocks have {ncol} columns; supported (collinear LORBIT 10/11): "
            + ", ".join(str(c) for c in DOSCAR_D_COLUMNS)
        )
    cols = DOSCAR_D_COLUMNS[ncol]
    d = np.array([[b[:, list(c)].sum(axis=1) for c in cols] for b in blocks])
    return VaspDos(total[:, 0], efermi, d)


#: Readers of VASP output by file kind.
VASP_READERS: dict[str, Callable[[Path], VaspDos]] = {
    "vasprun": _read_vasprun,
    "doscar": _read_doscar,
}


def _vasp_kind(path: Path) -> str:
    name = path.name.lower()
    if name.startswith("doscar"):
        return "doscar"
    if "vasprun" in name or name.endswith((".xml", ".xml.gz")):
        return "vasprun"
    raise ArscInputError(
        f"cannot tell the kind of VASP file {str(path)!r}; expected a name like vasprun.xml "
        "or DOSCAR"
    )


def read_vasp_dos(path: str | Path) -> VaspDos:
    """Read the per-atom d-projected DOS from vasprun.xml (preferred) or a DOSCAR.

    A folder is searched for ``vasprun.xml`` first, then ``DOSCAR``.
    """
    p = Path(path)
    if p.is_dir():
        found = [p / n for n in ("vasprun.xml", "DOSCAR") if (p / n).is_file()]
        if not found:
            raise ArscInputError(f"folder {str(p)!r} holds neither vasprun.xml nor DOSCAR")
        p = found[0]
    if not p.is_file():
        raise ArscInputError(f"VASP output {str(p)!r} does not exist")
    return VASP_READERS[_vasp_kind(p)](p)


def from_vasp(
    path: str | Path,
    atoms: Sequence[int],
    *,
    window: tuple[float, float] | None = None,
) -> DBandAnalysis:
    """Return the d-band analysis of a set of atoms from VASP output.

    Parameters
    ----------
    path
        vasprun.xml (preferred; read with pymatgen) or a collinear DOSCAR
        written with LORBIT = 10 or 11, or a folder holding one of them.
    atoms
        0-based indices of the atoms whose d-DOS are summed (POSCAR order).
    window
        (lower, upper) in eV relative to the Fermi level; default: the whole grid.

    Returns
    -------
    DBandAnalysis
        Energies relative to the Fermi level written by VASP.
    """
    dos = read_vasp_dos(path)
    natoms = dos.d.shape[0]
    idx = list(atoms)
    bad = [i for i in idx if not (isinstance(i, int | np.integer) and 0 <= i < natoms)]
    if not idx or bad:
        raise ArscInputError(
            f"atom indices {idx!r} for {str(path)!r}: need at least one 0-based index "
            f"in 0..{natoms - 1}"
        )
    return analyse(dos.energies, dos.d[idx].sum(axis=0), dos.fermi, window=window)
