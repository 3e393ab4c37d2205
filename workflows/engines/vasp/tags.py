"""The settings record of a VASP calculation: the inputs that change its result.

One function, :func:`vasp_settings`, turns an INCAR, a KPOINTS and the POTCAR
family into the ``settings`` of a :class:`workflows.schemas.CalcDoc`; the input
set generator (before a run) and the output parser (after one, or for a
foreign folder) both use it, so the same inputs give the same
``settings_hash``. Only structure-independent entries are kept (the U values
per metal, not the LDAUU list), so the bare site and its adsorbed states of one
site share the hash when their inputs agree. Tags that do not change the
converged result (ALGO, NELM, NSW, LORBIT, NEDOS, LCHARG, parallelisation) and
structure-derived tags (MAGMOM, DIPOL; the structure is in the fingerprint) are
left out. Absent tags are recorded as None (VASP's default applies).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pymatgen.io.vasp import Kpoints


def as_bool(value: object) -> bool:
    """Read a VASP logical (True, ``.TRUE.``, ``T``, ``.FALSE.``, ...)."""
    if isinstance(value, str):
        return value.strip().strip(".").upper().startswith("T")
    return bool(value)


def _text(value: object) -> str:
    return str(value).strip().upper()


def _lreal(value: object) -> str:
    # LREAL is a logical or a word (Auto, On): compare in one spelling.
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    text = _text(value).strip(".")
    return {"T": "TRUE", "F": "FALSE", "A": "AUTO", "O": "ON"}.get(text, text)


#: INCAR tags recorded in the settings, with how each value is normalised.
RESULT_TAGS: dict[str, Callable[[Any], Any]] = {
    "GGA": _text,
    "METAGGA": _text,
    "LHFCALC": as_bool,
    "ENCUT": float,
    "PREC": _text,
    "LREAL": _lreal,
    "LASPH": as_bool,
    "ISPIN": int,
    "IVDW": int,
    "LVDW": as_bool,
    "LDAU": as_bool,
    "LDAUTYPE": int,
    "LDIPOL": as_bool,
    "IDIPOL": int,
    "EDIFF": float,
    "EDIFFG": float,
    "ISMEAR": int,
    "SIGMA": float,
}

#: Tags recorded only for relaxations (NSW > 0).
RELAX_TAGS: dict[str, Callable[[Any], Any]] = {"ISIF": int}


def _floats(value: object, n: int, default: float) -> list[float]:
    if value is None:
        return [default] * n
    if isinstance(value, str):
        return [float(v) for v in value.split()]
    if isinstance(value, list | tuple):
        return [float(v) for v in value]
    return [float(value)]  # type: ignore[arg-type]


def u_values(incar: Mapping[str, Any], species: Sequence[str]) -> dict[str, float]:
    """Effective U (U - J, eV) per element with a nonzero on-site term, when LDAU is on.

    Parameters
    ----------
    incar
        INCAR tags; LDAUU/LDAUJ/LDAUL are matched to ``species``.
    species
        Element of each POSCAR species block, in order.
    """
    if not as_bool(incar.get("LDAU", False)):
        return {}
    n = len(species)
    us = _floats(incar.get("LDAUU"), n, 0.0)
    js = _floats(incar.get("LDAUJ"), n, 0.0)
    ls = _floats(incar.get("LDAUL"), n, 2.0)
    out: dict[str, float] = {}
    for el, u, j, ell in zip(species, us, js, ls, strict=False):
        if ell >= 0 and u - j != 0:
            out[el] = round(u - j, 6)
    return dict(sorted(out.items()))


def kpoints_text(kpoints: Kpoints | None) -> str | None:
    """One-line description of a KPOINTS file: ``Gamma 3 3 1``, ``Automatic 25``, ..."""
    if kpoints is None:
        return None
    style = str(kpoints.style.name)
    if kpoints.num_kpts > 0:
        return f"{style} {kpoints.num_kpts} explicit points"
    text = " ".join(f"{k:g}" for k in kpoints.kpts[0])
    shift = tuple(float(s) for s in (kpoints.kpts_shift or (0, 0, 0)))
    if any(shift):
        text += " shift " + " ".join(f"{s:g}" for s in shift)
    return f"{style} {text}"


def vasp_settings(
    incar: Mapping[str, Any],
    species: Sequence[str],
    kpoints: Kpoints | None,
    potcar: str | None,
) -> dict[str, Any]:
    """Return the settings record of a VASP calculation.

    Parameters
    ----------
    incar
        INCAR tags (pymatgen ``Incar`` or a mapping).
    species
        Element of each POSCAR species block, in order (for the U values).
    kpoints
        The KPOINTS, or None when VASP's KSPACING is used (then in the INCAR tags).
    potcar
        POTCAR functional or family (``PBE_54`` from a generator, ``PAW_PBE``
        from POTCAR TITELs), None when unknown.

    Returns
    -------
    dict
        ``{tag: value or None}`` for :data:`RESULT_TAGS` (and ISIF for
        relaxations), ``U`` (eV per element), ``kpoints`` and ``potcar``.
    """
    tags = dict(RESULT_TAGS)
    if int(incar.get("NSW", 0) or 0) > 0:
        tags.update(RELAX_TAGS)
    out: dict[str, Any] = {
        tag: (None if incar.get(tag) is None else convert(incar[tag]))
        for tag, convert in tags.items()
    }
    out["U"] = u_values(incar, species)
    out["kpoints"] = kpoints_text(kpoints) if kpoints is not None else incar.get("KSPACING")
    out["potcar"] = potcar
    return out
