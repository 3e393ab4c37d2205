"""GPAW engine: the local DFT code, run in-process through ASE.

Spin-polarised PBE (initial moments from the structure), LCAO by default,
plane waves as an option. Presets ``fast`` / ``standard`` / ``accurate``,
the relaxation defaults, the d-DOS grid and the failure ladder are data in
``workflows/data/gpaw_presets.yaml`` (each with its reason). One OpenMP/BLAS
thread by default (faster than two here: platform.md).

The static job writes the metal-projected d-DOS (PAW projections of the
Kohn-Sham states onto the metal's d channel, Gaussian-broadened) into
``CalcDoc.dos``, which the job stores in the additional store ``data``, and
the d-band moments of each metal (:func:`arsc.dband.analyse`, per spin,
relative to the Fermi level) into ``CalcDoc.dband``.

Examples
--------
>>> from workflows.engines import get_engine
>>> maker = get_engine("gpaw").static("fast")  # doctest: +SKIP
>>> GpawStaticMaker(preset="standard", overrides={"mode": "pw", "ecut": 400})  # doctest: +SKIP
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any, Literal

import numpy as np
from ase import Atoms
from gpaw import GPAW, KohnShamConvergenceError
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator
from threadpoolctl import threadpool_limits

from arsc.dband import DBandAnalysis, analyse
from arsc.errors import ArscInputError, unknown
from arsc.structures import TAG_M1, TAG_M2
from arsc.yamlio import problems, shown
from workflows.anomalies import check_anomalies
from workflows.engines.ase_maker import AseCalcMaker, build_calc_doc
from workflows.engines.atoms import max_force
from workflows.engines.base import Engine, load_data, register_engine
from workflows.engines.hessian import mlip_hessian
from workflows.engines.recovery import RecoverableError, RecoveryStep, parse_ladder, run_ladder
from workflows.engines.relax import RelaxSettings, finished_relax, relax_with_ladder, work_dir
from workflows.engines.trajectory import STATIC_FRAME, resume_from_trajectory, write_frame
from workflows.fingerprint import file_digest
from workflows.schemas import CalcDoc, Convergence, ProjectedDos

PRESETS_FILE = "gpaw_presets.yaml"
#: Parameters that steer the SCF but do not change its converged result.
SCF_AIDS = ("mixer", "beta", "nmaxold", "weight", "maxiter")


class GpawParams(BaseModel):
    """Physical parameters of a GPAW calculation (one preset, flat)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    mode: Literal["lcao", "pw"]
    basis: str
    h: float
    ecut: float | None
    kpts: tuple[int, int, int]
    width: float
    xc: str
    energy_tol: float
    density_tol: float
    eigenstates_tol: float
    mixer: Literal["pulay", "msr1"]
    beta: float
    nmaxold: int
    weight: float
    maxiter: int

    @model_validator(mode="after")
    def _pw_needs_ecut(self) -> GpawParams:
        if self.mode == "pw" and not self.ecut:
            raise ValueError("mode 'pw' needs ecut (eV)")
        return self

    def settings(self) -> dict[str, Any]:
        """Return the parameters that change the result.

        Basis and h count only in LCAO, ecut only in PW; the SCF aids
        (:data:`SCF_AIDS`: mixer and maxiter) change how the SCF gets there,
        not where, and are left out.
        """
        data = self.model_dump()
        data["kpts"] = list(self.kpts)
        drop = {*SCF_AIDS, *(("ecut",) if self.mode == "lcao" else ("basis", "h"))}
        return {k: v for k, v in data.items() if k not in drop}

    def calculator_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`gpaw.GPAW` (without ``txt``)."""
        mode: dict[str, Any] = {"name": self.mode}
        extra: dict[str, Any] = {"basis": self.basis}
        if self.mode == "pw":
            mode["ecut"] = self.ecut
        else:
            extra["h"] = self.h
        return {
            "mode": mode,
            **extra,
            "xc": self.xc,
            "kpts": {"size": list(self.kpts), "gamma": True},
            "occupations": {"name": "fermi-dirac", "width": self.width},
            "convergence": {
                "energy": self.energy_tol,
                "density": self.density_tol,
                "eigenstates": self.eigenstates_tol,
            },
            "mixer": {
                "name": self.mixer,
                "beta": self.beta,
                "nmaxold": self.nmaxold,
                "weight": self.weight,
            },
            "maxiter": self.maxiter,
            "spinpol": True,
            "symmetry": "off",
        }


def presets() -> dict[str, dict[str, Any]]:
    """Preset name -> parameters and reason (``gpaw_presets.yaml``)."""
    return dict(load_data(PRESETS_FILE)["presets"])


def gpaw_params(preset: str, overrides: Mapping[str, Any] | None = None) -> GpawParams:
    """Parameters of a preset with user overrides.

    Raises
    ------
    ArscInputError
        Unknown preset, unknown override key or invalid value.
    """
    table = presets()
    if preset not in table:
        raise unknown("gpaw preset", preset, table)
    data = {k: v for k, v in table[preset].items() if k != "reason"}
    data.update(overrides or {})
    try:
        return GpawParams(**data)
    except ValidationError as exc:
        first = problems(exc, GpawParams)[0]
        what = f"{first.key}={shown(first.value)}" if first.key else "parameters"
        raise ArscInputError(
            f"invalid GPAW setting {what} (preset {preset!r}, overrides "
            f"{dict(overrides or {})}): {first.what}; allowed keys: "
            f"{', '.join(GpawParams.model_fields)}"
        ) from None


def recovery_ladder() -> dict[str, list[RecoveryStep]]:
    """Return the failure ladder (``gpaw_presets.yaml``, ``recovery``)."""
    return parse_ladder(load_data(PRESETS_FILE)["recovery"])


def make_calculator(params: GpawParams, txt: str) -> Any:
    """Create the GPAW calculator (the one place GPAW is created)."""
    return GPAW(**params.calculator_kwargs(), txt=txt)


def next_log(folder: Path) -> str:
    """Return a GPAW text log path in ``folder`` that no earlier attempt or run has written.

    ``gpaw.txt`` first, then ``gpaw-1.txt``, ``gpaw-2.txt``, ...: each
    ladder attempt, and a resumed run after a kill, keeps the logs before it.
    """
    names = ("gpaw.txt" if n == 0 else f"gpaw-{n}.txt" for n in count())
    return str(next(folder / name for name in names if not (folder / name).exists()))


def _translate(exc: Exception) -> RecoverableError | None:
    """GPAW's SCF non-convergence is recoverable (ladder ``scf``); nothing else is."""
    if isinstance(exc, KohnShamConvergenceError):
        return RecoverableError("scf", "SCF not converged within maxiter")
    return None


def _scf_iterations(calc: Any) -> int | None:
    try:
        return int(calc.get_number_of_iterations())
    except Exception:  # pragma: no cover - older/newer GPAW without it
        return None


def _electronic(atoms: Atoms) -> dict[str, Any]:
    mags = atoms.get_magnetic_moments()
    return {
        "energy": float(atoms.get_potential_energy()),
        "free_energy": float(atoms.get_potential_energy(force_consistent=True)),
        "magmoms": [float(m) for m in mags],
        "total_magmom": float(atoms.calc.get_magnetic_moment()),
    }


def metal_d_dos(
    calc: Any, atoms: Atoms, *, emin: float, emax: float, npts: int, width: float
) -> tuple[ProjectedDos, dict[str, DBandAnalysis]]:
    """d-projected DOS of each metal (tags 1, 2) per spin, and its d-band moments.

    Parameters
    ----------
    calc
        A converged GPAW calculator.
    atoms
        The structure (tags mark M1 and M2).
    emin, emax
        Grid limits relative to the Fermi level, eV.
    npts
        Number of grid points.
    width
        Gaussian broadening, eV.
    """
    fermi = float(calc.get_fermi_level())
    energies = np.linspace(fermi + emin, fermi + emax, npts)
    doscalc = calc.dos(shift_fermi_level=False)
    nspin = int(calc.get_number_of_spins())
    d: dict[str, list[list[float]]] = {}
    moments: dict[str, DBandAnalysis] = {}
    for label, tag in (("M1", TAG_M1), ("M2", TAG_M2)):
        idx = np.flatnonzero(atoms.get_tags() == tag)
        if not idx.size:
            continue
        pdos = np.array(
            [doscalc.raw_pdos(energies, int(idx[0]), 2, spin=s, width=width) for s in range(nspin)]
        )
        pdos = np.clip(pdos, 0.0, None)  # Gaussian sums are >= 0 up to rounding
        d[label] = pdos.tolist()
        moments[label] = analyse(energies, pdos, fermi)
    return ProjectedDos(energies=energies.tolist(), fermi=fermi, width=width, d=d), moments


@dataclass
class GpawStaticMaker(AseCalcMaker):
    """GPAW single point: energy, forces, moments, metal d-DOS and d-band moments.

    Attributes
    ----------
    name
        Job name.
    preset
        ``fast``, ``standard`` or ``accurate`` (``gpaw_presets.yaml``).
    overrides
        Parameters replacing the preset's (keys of :class:`GpawParams`), e.g.
        ``{"mode": "pw", "ecut": 400}``.
    threads
        BLAS/OpenMP threads (does not change the result).
    scratch_dir
        Folder for GPAW's text log (and the trajectory of a relaxation);
        default the working directory. Files go to a subfolder named by the
        calculation's fingerprint.
    write_dos
        Compute the metal d-DOS and d-band moments (static only).
    recovery
        Failure ladder in its data form (``{kind: [{label, set, reason}]}``);
        default the ``recovery`` section of ``gpaw_presets.yaml``.
    """

    name: str = "gpaw static"
    preset: str = "fast"
    overrides: dict[str, Any] = field(default_factory=dict)
    threads: int = 1
    scratch_dir: str | None = None
    write_dos: bool = True
    recovery: dict[str, list[dict[str, Any]]] | None = None

    engine = "gpaw"
    task = "static"

    def params(self) -> GpawParams:
        """Return the preset's parameters with the overrides."""
        return gpaw_params(self.preset, self.overrides)

    def ladder(self) -> dict[str, list[RecoveryStep]]:
        """Return the failure ladder of this Maker."""
        return parse_ladder(self.recovery) if self.recovery is not None else recovery_ladder()

    def settings(self) -> dict[str, Any]:
        """Every GPAW parameter that changes the result, plus the GPAW version."""
        return self.settings_of(self.params().model_dump())

    def settings_of(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return the settings of one attempt's parameters (after ladder changes)."""
        import gpaw

        gp = GpawParams(**{k: v for k, v in params.items() if k in GpawParams.model_fields})
        return {**gp.settings(), "version": f"gpaw {gpaw.__version__}"}

    def compute(self, atoms: Atoms, fingerprint: str) -> CalcDoc:
        """Single point with the SCF part of the failure ladder.

        A converged single point also leaves its frame (structure, energies,
        forces, magnetic moments) in ``static.traj`` in its folder: DFT
        labels at the pre-relaxed geometry, which ``arsc finetune`` reads.
        """
        start = time.perf_counter()
        folder = work_dir(self.scratch_dir, self.engine, self.task, fingerprint)
        ladder = {"scf": self.ladder().get("scf", [])}

        def attempt(p: dict[str, Any]) -> float:
            atoms.calc = make_calculator(GpawParams(**p), next_log(folder))
            try:
                return max_force(atoms)
            except Exception as exc:
                translated = _translate(exc)
                if translated is None:
                    raise
                raise translated from exc

        with threadpool_limits(limits=self.threads):
            result = run_ladder(attempt, self.params().model_dump(), ladder)
            fields: dict[str, Any] = {}
            if result.error is None:
                fields = _electronic(atoms)
                write_frame(atoms, folder / STATIC_FRAME)
                if self.write_dos:
                    fields["dos"], fields["dband"] = metal_d_dos(atoms.calc, atoms, **_dos_grid())
        convergence = Convergence(
            converged=result.error is None,
            ionic_steps=0,
            scf_iterations=_scf_iterations(atoms.calc) if result.error is None else None,
            fmax=result.value,
            fmax_target=None,
            last_energy_change=None,
            retries=result.retries,
        )
        return build_calc_doc(
            fingerprint=fingerprint,
            engine=self.engine,
            task=self.task,
            atoms=atoms,
            settings=self.settings_of(result.params),
            convergence=convergence,
            error=result.error,
            anomalies=check_anomalies(atoms, atoms),
            wall_time=time.perf_counter() - start,
            **fields,
        )


def _dos_grid() -> dict[str, Any]:
    grid = load_data(PRESETS_FILE)["dos"]
    return {k: grid[k] for k in ("emin", "emax", "npts", "width")}


@dataclass
class GpawRelaxMaker(RelaxSettings, GpawStaticMaker):
    """GPAW relaxation with an ASE optimiser, trajectory and failure ladder.

    The optimiser knobs ``fmax``, ``steps``, ``optimizer`` and ``maxstep``
    are those of :class:`~workflows.engines.relax.RelaxSettings`, with
    defaults from ``gpaw_presets.yaml`` (``relax``). A re-run after a kill
    resumes from the last frame of the trajectory in the calculation's
    folder. SCF failures climb the ``scf`` ladder (smaller mixing, larger
    smearing), an optimiser that has not converged within ``steps`` the
    ``optimizer`` ladder (smaller maxstep, then FIRE); each attempt continues
    from the current geometry.

    Attributes
    ----------
    hessian
        MLIP model (``chgnet``, ``sevenn``) whose finite-difference Hessian at
        the starting geometry seeds BFGS (:mod:`workflows.engines.hessian`);
        None: ASE's ``70 eV/A^2 * I``. Only with ``optimizer="BFGS"`` (the
        other optimisers have no Hessian to seed). Needs the
        ``arsc-dac[mlip]`` extra.
    hessian_weights
        Fine-tuned weights file of that MLIP (:mod:`workflows.engines.finetune`).
    """

    name: str = "gpaw relax"
    write_dos: bool = False
    hessian: str | None = None
    hessian_weights: str | None = None

    task = "relax"
    relax_defaults = PRESETS_FILE

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.hessian and self.optimizer != "BFGS":
            raise ArscInputError(
                f"GpawRelaxMaker: hessian={self.hessian!r} seeds BFGS only, but optimizer is "
                f"{self.optimizer!r}; set optimizer='BFGS' or leave hessian unset"
            )

    def _relax_params(self) -> dict[str, Any]:
        return {**self.params().model_dump(), **self.optimizer_params()}

    def settings(self) -> dict[str, Any]:
        """GPAW parameters plus the optimiser knobs."""
        return self.settings_of(self._relax_params())

    def settings_of(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return the settings of one attempt's parameters (after ladder changes)."""
        return {
            **super().settings_of(params),
            **self.relax_knobs(params),
            # only when set, so that the keys of plain BFGS relaxations stay as they were
            **({"hessian": self.hessian} if self.hessian else {}),
            **(
                {"hessian_weights": file_digest(self.hessian_weights, "MLIP weights file")}
                if self.hessian and self.hessian_weights
                else {}
            ),
        }

    def compute(self, atoms: Atoms, fingerprint: str) -> CalcDoc:
        """Relax; record anomalies against the input structure."""
        start = time.perf_counter()
        initial = atoms.copy()
        folder = work_dir(self.scratch_dir, self.engine, self.task, fingerprint)
        resumed = resume_from_trajectory(atoms, folder / "relax.traj", fmax=self.fmax)
        if resumed.finished:  # killed after its last step: the trajectory holds the result
            done = finished_relax(resumed, self.fmax, self._relax_params())
            return self.relax_doc(fingerprint, atoms, initial, done, start, **_electronic(atoms))
        hessian = None
        if self.hessian:
            weights = self.hessian_weights
            hessian = mlip_hessian(atoms, self.hessian, folder / "hessian", weights_file=weights)

        def attach(target: Atoms, p: Mapping[str, Any]) -> None:
            gp = GpawParams(**{k: v for k, v in p.items() if k in GpawParams.model_fields})
            target.calc = make_calculator(gp, next_log(folder))

        with threadpool_limits(limits=self.threads):
            result = relax_with_ladder(
                atoms,
                params=self._relax_params(),
                ladder=self.ladder(),
                attach=attach,
                fmax=self.fmax,
                steps=self.steps,
                folder=folder,
                translate=_translate,
                initial_hessian=hessian,
                steps_before=resumed.steps,
            )
            fields = _electronic(atoms) if result.error is None else {}
        if result.error is None:
            result.convergence.scf_iterations = _scf_iterations(atoms.calc)
        return self.relax_doc(fingerprint, atoms, initial, result, start, **fields)


ENGINE: Engine = register_engine(
    Engine(
        name="gpaw",
        description="GPAW DFT in-process through ASE (spin-polarised PBE, LCAO or plane waves)",
        relax=lambda preset: GpawRelaxMaker(preset=ENGINE.check_preset(preset)),
        static=lambda preset: GpawStaticMaker(preset=ENGINE.check_preset(preset)),
        presets=tuple(presets()),
    )
)
