"""Comparability settings and convergence of a VASP run, from its INCAR tags.

Tag meanings and defaults are data (``arsc/data/ingest.yaml``, VASP wiki).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from arsc.ingest.conventions import vasp_conventions
from arsc.ingest.table import DftSettings

Tags = Mapping[str, Any]
#: A functional rule: (INCAR tags, POTCAR TITELs, conventions) -> name or None.
FunctionalRule = Callable[[Tags, Sequence[str], dict[str, Any]], str | None]


def as_bool(value: object) -> bool:
    """Read a VASP logical (True, ``.TRUE.``, ``T``, ``.FALSE.``, ...)."""
    if isinstance(value, str):
        return value.strip().strip(".").upper().startswith("T")
    return bool(value)


def _floats(value: object) -> list[float]:
    if isinstance(value, str):
        return [float(v) for v in value.split()]
    if isinstance(value, list | tuple):
        return [float(v) for v in value]
    return [float(value)]  # type: ignore[arg-type]


def _metagga(tags: Tags, potcars: Sequence[str], conv: dict[str, Any]) -> str | None:
    value = str(tags.get("METAGGA", "")).strip().upper()
    if not value or value in conv["metagga_off"]:
        return None
    return str(conv["metagga"].get(value, f"METAGGA={value}"))


def _hybrid(tags: Tags, potcars: Sequence[str], conv: dict[str, Any]) -> str | None:
    if not as_bool(tags.get("LHFCALC", False)):
        return None
    screen = float(tags.get("HFSCREEN", 0.0))
    for entry in conv["hybrids"]:
        if abs(screen - float(entry["hfscreen"])) <= float(conv["hfscreen_tolerance"]):
            return str(entry["name"])
    return f"hybrid HFSCREEN={screen:g}"


def _gga(tags: Tags, potcars: Sequence[str], conv: dict[str, Any]) -> str | None:
    value = str(tags.get("GGA", "")).strip().upper()
    if not value or value == "--":
        return None
    return str(conv["gga"].get(value, f"GGA={value}"))


def _potcar_family(tags: Tags, potcars: Sequence[str], conv: dict[str, Any]) -> str | None:
    families = sorted({t.split()[0] for t in potcars if t.split()})
    if not families:
        return None
    names = sorted({str(conv["potcar_families"].get(f, f)) for f in families})
    return names[0] if len(names) == 1 else "mixed POTCARs " + "+".join(names)


#: Rules tried in order; the first that names a functional wins.
FUNCTIONAL_RULES: tuple[FunctionalRule, ...] = (_metagga, _hybrid, _gga, _potcar_family)


def functional(tags: Tags, potcars: Sequence[str]) -> str:
    """Name the exchange-correlation functional of a run.

    Parameters
    ----------
    tags
        INCAR tags.
    potcars
        POTCAR TITEL strings (``PAW_PBE Co 02Aug2007``), in species order.

    Returns
    -------
    str
        ``PBE``, ``RPBE``, ``r2SCAN``, ``HSE06``, ... with ``+vdW-DF`` appended
        when a nonlocal vdW kernel is on; ``unknown`` without tags or POTCARs.
    """
    conv = vasp_conventions()
    name = next(
        (n for rule in FUNCTIONAL_RULES if (n := rule(tags, potcars, conv)) is not None), "unknown"
    )
    if as_bool(tags.get("LUSE_VDW", False)):
        name += str(conv["nonlocal_vdw_suffix"])
    return name


def potcar_elements(potcars: Sequence[str]) -> list[str]:
    """Element of each POTCAR TITEL (``PAW_PBE Co_pv 02Aug2007`` -> ``Co``)."""
    return [t.split()[1].split("_")[0] for t in potcars if len(t.split()) > 1]


def u_values(tags: Tags, species: Sequence[str]) -> str:
    """Effective U per element as ``Co:3.32,Fe:4`` (sorted; zero U left out).

    LDAUU/LDAUJ/LDAUL are matched to ``species`` (POTCAR order). With
    LDAUTYPE 2 (Dudarev) the value is U - J; with other types it is ``U/J``
    and the string starts with ``LDAUTYPE=n;``.
    """
    if not as_bool(tags.get("LDAU", False)):
        return ""
    conv = vasp_conventions()
    kind = int(tags.get("LDAUTYPE", conv["defaults"]["LDAUTYPE"]))
    us = _floats(tags.get("LDAUU", []))
    js = _floats(tags.get("LDAUJ", [0.0] * len(us)))
    ls = _floats(tags.get("LDAUL", [2.0] * len(us)))
    entries = []
    for el, u, j, ell in zip(species, us, js, ls, strict=False):
        if ell < 0 or (u == 0 and j == 0):
            continue
        entries.append(f"{el}:{u - j:g}" if kind == 2 else f"{el}:{u:g}/{j:g}")
    text = ",".join(sorted(entries))
    return text if kind == 2 else f"LDAUTYPE={kind};{text}"


def ivdw(tags: Tags) -> int:
    """IVDW code of the dispersion correction (LVDW = .TRUE. counts as D2, IVDW 1)."""
    conv = vasp_conventions()
    if "IVDW" in tags:
        code = int(tags["IVDW"])
    elif as_bool(tags.get("LVDW", False)):
        code = int(conv["lvdw_ivdw"])
    else:
        code = int(conv["defaults"]["IVDW"])
    return int(conv["ivdw_aliases"].get(code, code))


def dipole(tags: Tags) -> bool:
    """Whether a dipole correction is on (LDIPOL, or IDIPOL 1-4)."""
    conv = vasp_conventions()
    idipol = tags.get("IDIPOL")
    return as_bool(tags.get("LDIPOL", False)) or (
        idipol is not None and int(idipol) in conv["dipole_idipol"]
    )


def vasp_settings(tags: Tags, potcars: Sequence[str], species: Sequence[str]) -> DftSettings:
    """Collect the comparability settings of a VASP run.

    Parameters
    ----------
    tags
        INCAR tags (pymatgen ``Incar`` or a plain mapping).
    potcars
        POTCAR TITEL strings in species order (may be empty).
    species
        Element of each species in POTCAR order, for LDAUU.
    """
    defaults = vasp_conventions()["defaults"]
    encut = tags.get("ENCUT")
    return DftSettings(
        functional=functional(tags, potcars),
        encut=None if encut is None else float(encut),
        ispin=int(tags.get("ISPIN", defaults["ISPIN"])),
        ldau=as_bool(tags.get("LDAU", False)),
        u_values=u_values(tags, species),
        ivdw=ivdw(tags),
        dipole=dipole(tags),
    )


def vasp_convergence(
    tags: Tags, ionic_steps: int, last_de: float | None, last_scf_steps: int | None
) -> tuple[bool, bool]:
    """Judge whether a run finished normally.

    Parameters
    ----------
    tags
        INCAR tags (NSW, NELM, EDIFF, EDIFFG; VASP defaults otherwise).
    ionic_steps
        Ionic steps done.
    last_de
        Energy change of the last ionic step, eV (None for one step).
    last_scf_steps
        SCF iterations of the last ionic step, or None when unknown.

    Returns
    -------
    tuple of bool
        ``(converged, nsw_reached)``. ``nsw_reached``: NSW > 0 and ionic
        steps >= NSW. ``converged``: the last SCF stopped before NELM, NSW was
        not reached, and with a positive EDIFFG (energy criterion)
        ``|last_de| < EDIFFG``. A negative EDIFFG (force criterion) cannot be
        checked from energies alone, and a job killed by the scheduler looks
        converged when only OSZICAR is there.
    """
    conv = vasp_conventions()
    defaults = conv["defaults"]
    nsw = int(tags.get("NSW", defaults["NSW"]))
    nelm = int(tags.get("NELM", defaults["NELM"]))
    ediff = float(tags.get("EDIFF", defaults["EDIFF"]))
    ediffg = float(tags.get("EDIFFG", ediff * float(conv["ediffg_factor"])))
    nsw_reached = nsw > 0 and ionic_steps >= nsw
    scf_ok = last_scf_steps is None or last_scf_steps < nelm
    energy_ok = ediffg <= 0 or nsw == 0 or last_de is None or abs(last_de) < ediffg
    return scf_ok and not nsw_reached and energy_ok, nsw_reached
