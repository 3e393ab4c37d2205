"""Comparability settings and convergence of a VASP run, from its INCAR tags.

Tag meanings and defaults are data (``arsc/data/ingest.yaml``, VASP wiki).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from arsc.errors import ArscInputError
from arsc.ingest.conventions import vasp_conventions
from arsc.ingest.messages import FileFormatError, shown
from arsc.ingest.table import DftSettings

Tags = Mapping[str, Any]
#: A functional rule: (INCAR tags, POTCAR TITELs, conventions) -> name or None.
FunctionalRule = Callable[[Tags, Sequence[str], dict[str, Any]], str | None]


def as_bool(value: object) -> bool:
    """Read a VASP logical (True, ``.TRUE.``, ``T``, ``.FALSE.``, ...)."""
    if isinstance(value, str):
        return value.strip().strip(".").upper().startswith("T")
    return bool(value)


def _bad(key: str, value: object, what: str) -> ArscInputError:
    """``tag ENCUT = Abc is not a number`` (the caller prefixes folder and file)."""
    if isinstance(value, list | tuple):
        value = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in value)
    elif isinstance(value, float):
        value = f"{value:g}"
    return ArscInputError(f"tag {key} = {shown(value)} is not {what}")


def _as_float(key: str, value: object) -> float:
    try:
        x = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise _bad(key, value, "a number") from None
    if not math.isfinite(x):
        raise _bad(key, value, "a finite number")
    return x


def number_tag(tags: Tags, key: str, default: Any = None) -> float | None:
    """Read a numeric tag as a finite float (``default`` when absent).

    Raises
    ------
    ArscInputError
        ``tag ENCUT = Abc is not a number`` (also for NaN and infinities).
    """
    value = tags.get(key, default)
    return None if value is None else _as_float(key, value)


def integer_tag(tags: Tags, key: str, default: Any = None) -> int | None:
    """Read an integer tag (``2`` and ``2.0`` alike; ``default`` when absent).

    Raises
    ------
    ArscInputError
        ``tag ISPIN = two is not an integer``.
    """
    value = tags.get(key, default)
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    try:
        x = _as_float(key, value)
    except ArscInputError:
        x = math.nan
    if isinstance(value, bool) or not x.is_integer():
        raise _bad(key, value, "an integer")
    return int(x)


def logical_tag(tags: Tags, key: str) -> bool:
    """Read a VASP logical tag (``.TRUE.``, ``T``, ``.FALSE.``, ``F``; False when absent).

    Raises
    ------
    ArscInputError
        ``tag LDAU = maybe is not a logical (.TRUE. or .FALSE.)``.
    """
    value = tags.get(key, False)
    if isinstance(value, bool):
        return value
    text = str(value).strip().strip(".").upper()
    if not text or text[0] not in "TF":
        raise _bad(key, value, "a logical (.TRUE. or .FALSE.)")
    return text[0] == "T"


#: Numeric INCAR tags that the settings and convergence use, checked in the raw text.
INTEGER_TAGS: tuple[str, ...] = ("ISPIN", "IVDW", "IDIPOL", "LDAUTYPE", "NSW", "NELM")
FLOAT_TAGS: tuple[str, ...] = ("ENCUT", "HFSCREEN", "EDIFF", "EDIFFG")
LIST_TAGS: tuple[str, ...] = ("LDAUU", "LDAUJ", "LDAUL")
_INTEGER = re.compile(r"[+-]?\d+")
_REAL = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eEdD][+-]?\d+)?")
_REPEAT = re.compile(r"(\d+)\*(.+)")


def _real(text: str) -> float | None:
    """Read a Fortran real (``1e-5``, ``1.0D-5``, ``-.02``), or None when the text is not one."""
    if not _REAL.fullmatch(text):
        return None
    x = float(text.replace("d", "e").replace("D", "e"))
    return x if math.isfinite(x) else None


def _raw_value(key: str, value: str, line: int) -> int | float | list[float]:
    where = f"(line {line})"
    if key in INTEGER_TAGS:
        if not _INTEGER.fullmatch(value):
            raise FileFormatError(f"tag {key} = {shown(value)} {where} is not an integer")
        return int(value)
    if key in FLOAT_TAGS:
        x = _real(value)
        if x is None:
            raise FileFormatError(f"tag {key} = {shown(value)} {where} is not a number")
        return x
    items: list[float] = []
    for token in value.split():
        count, item = (int(m[1]), m[2]) if (m := _REPEAT.fullmatch(token)) else (1, token)
        x = _real(item)
        if x is None:
            raise FileFormatError(f"tag {key} = {shown(value)} {where} is not a list of numbers")
        items += [x] * count
    return items


def numeric_tags(lines: Sequence[str]) -> dict[str, Any]:
    """Read the numeric tags of :data:`INTEGER_TAGS`, :data:`FLOAT_TAGS` and :data:`LIST_TAGS`.

    pymatgen's INCAR reader is lenient: it reads ``ENCUT = 52O`` as 52,
    ``EDIFF = 1D-5`` as 1 and drops the ``x`` of ``LDAUU = 4 x``. These tags
    decide the settings, so their raw text is checked and read here
    (``n*value`` repeats are expanded; continued lines are left to pymatgen).

    Raises
    ------
    FileFormatError
        ``tag ENCUT = 52O (line 3) is not a number`` and the like.
    """
    found: dict[str, Any] = {}
    wanted = {*INTEGER_TAGS, *FLOAT_TAGS, *LIST_TAGS}
    for n, line in enumerate(lines, start=1):
        body = re.split(r"[#!]", line, maxsplit=1)[0]
        if n > 1 and lines[n - 2].rstrip().endswith("\\"):
            continue  # the rest of a continued value
        for statement in body.split(";"):
            key, sep, value = statement.partition("=")
            key, value = key.strip().upper(), value.strip()
            if sep and key in wanted and value and not value.endswith("\\"):
                found[key] = _raw_value(key, value, n)
    return found


def _floats(key: str, value: object) -> list[float]:
    if isinstance(value, str):
        items: list[object] = list(value.split())
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        items = [value]
    try:
        return [_as_float(key, v) for v in items]
    except ArscInputError:
        raise _bad(key, value, "a list of numbers") from None


def _metagga(tags: Tags, potcars: Sequence[str], conv: dict[str, Any]) -> str | None:
    value = str(tags.get("METAGGA", "")).strip().upper()
    if not value or value in conv["metagga_off"]:
        return None
    return str(conv["metagga"].get(value, f"METAGGA={value}"))


def _hybrid(tags: Tags, potcars: Sequence[str], conv: dict[str, Any]) -> str | None:
    if not logical_tag(tags, "LHFCALC"):
        return None
    screen = number_tag(tags, "HFSCREEN", 0.0) or 0.0
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
    if logical_tag(tags, "LUSE_VDW"):
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
    if not logical_tag(tags, "LDAU"):
        return ""
    conv = vasp_conventions()
    kind = integer_tag(tags, "LDAUTYPE", conv["defaults"]["LDAUTYPE"])
    us = _floats("LDAUU", tags.get("LDAUU", []))
    js = _floats("LDAUJ", tags.get("LDAUJ", [0.0] * len(us)))
    ls = _floats("LDAUL", tags.get("LDAUL", [2.0] * len(us)))
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
        code = integer_tag(tags, "IVDW") or 0
    elif logical_tag(tags, "LVDW"):
        code = int(conv["lvdw_ivdw"])
    else:
        code = int(conv["defaults"]["IVDW"])
    return int(conv["ivdw_aliases"].get(code, code))


def dipole(tags: Tags) -> bool:
    """Whether a dipole correction is on (LDIPOL, or IDIPOL 1-4)."""
    conv = vasp_conventions()
    idipol = integer_tag(tags, "IDIPOL")
    return logical_tag(tags, "LDIPOL") or (idipol is not None and idipol in conv["dipole_idipol"])


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
    encut = number_tag(tags, "ENCUT")
    if encut is not None and encut <= 0:
        raise _bad("ENCUT", tags["ENCUT"], "a positive cutoff (eV)")
    ispin = integer_tag(tags, "ISPIN", defaults["ISPIN"])
    if ispin not in (1, 2):
        raise _bad("ISPIN", tags.get("ISPIN"), "1 or 2")
    return DftSettings(
        functional=functional(tags, potcars),
        encut=encut,
        ispin=ispin,
        ldau=logical_tag(tags, "LDAU"),
        u_values=u_values(tags, species),
        ivdw=ivdw(tags),
        dipole=dipole(tags),
    )


def convergence_problems(
    tags: Tags, ionic_steps: int, last_de: float | None, last_scf_steps: int | None
) -> tuple[list[str], bool]:
    """Judge whether a run finished normally, and say why not.

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
    tuple
        ``(problems, nsw_reached)``. ``problems`` is empty for a converged
        run: the last SCF stopped before NELM, NSW was not reached, and with a
        positive EDIFFG (energy criterion, default EDIFF x 10)
        ``|last_de| < EDIFFG``. ``nsw_reached``: NSW > 0 and ionic steps >=
        NSW. A negative EDIFFG (force criterion) cannot be checked from
        energies alone, and a job killed by the scheduler between two ionic
        steps looks converged when only OSZICAR is there.
    """
    conv = vasp_conventions()
    defaults = conv["defaults"]
    nsw = integer_tag(tags, "NSW", defaults["NSW"]) or 0
    nelm = integer_tag(tags, "NELM", defaults["NELM"]) or 0
    ediff = number_tag(tags, "EDIFF", defaults["EDIFF"]) or 0.0
    ediffg = number_tag(tags, "EDIFFG", ediff * float(conv["ediffg_factor"])) or 0.0
    nsw_reached = nsw > 0 and ionic_steps >= nsw
    problems = []
    if last_scf_steps is not None and last_scf_steps >= nelm:
        problems.append(f"last SCF used all NELM = {nelm} iterations")
    if nsw_reached:
        problems.append(f"ionic steps reached NSW = {nsw}")
    if ediffg > 0 and nsw > 0 and last_de is not None and abs(last_de) >= ediffg:
        problems.append(f"last energy change {last_de:g} eV >= EDIFFG = {ediffg:g} eV")
    return problems, nsw_reached


def vasp_convergence(
    tags: Tags, ionic_steps: int, last_de: float | None, last_scf_steps: int | None
) -> tuple[bool, bool]:
    """Return ``(converged, nsw_reached)`` of :func:`convergence_problems`."""
    problems, nsw_reached = convergence_problems(tags, ionic_steps, last_de, last_scf_steps)
    return not problems, nsw_reached
