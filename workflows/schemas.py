"""Output documents of the DFT workflows (pydantic; every field states its unit).

``CalcDoc`` is what every engine's relax or static job returns, whatever the
engine (MLIP, GPAW, VASP): one schema, so results compare and ingest alike.
"""

from __future__ import annotations

from typing import Any, Literal

from ase import Atoms
from pydantic import BaseModel, ConfigDict, Field, field_validator

from arsc.dband import DBandAnalysis


class Convergence(BaseModel):
    """How a calculation ended."""

    converged: bool = Field(description="SCF and (for relaxations) ionic convergence reached")
    ionic_steps: int = Field(0, description="Number of ionic (optimiser) steps, count")
    scf_iterations: int | None = Field(None, description="SCF iterations of the last step, count")
    fmax: float | None = Field(None, description="Largest residual force, eV/Angstrom")
    fmax_target: float | None = Field(
        None, description="Force criterion of the relaxation, eV/Angstrom"
    )
    last_energy_change: float | None = Field(
        None, description="Energy change of the last ionic step, eV"
    )
    retries: list[str] = Field(
        default_factory=list, description="Recovery steps applied, in order (e.g. 'mixing 0.05')"
    )


class ProjectedDos(BaseModel):
    """Metal-projected d-DOS of a static calculation (bulky: kept in the ``data`` store)."""

    energies: list[float] = Field(description="Energy grid, eV, absolute (same reference as fermi)")
    fermi: float = Field(description="Fermi level, eV, absolute")
    width: float = Field(description="Gaussian broadening of the DOS, eV")
    d: dict[str, list[list[float]]] = Field(
        description="d-projected DOS per metal ('M1', 'M2'), shape (nspin, n), states/eV"
    )


class CalcDoc(BaseModel):
    """One relax or static calculation of one state (bare site or adsorbate in a mode)."""

    model_config = ConfigDict(extra="forbid")

    fingerprint: str = Field(
        description="Key of the calculation: structure + engine + task + settings (sha256)"
    )
    engine: str = Field(description="Engine registry name: mlip, gpaw or vasp")
    task: Literal["relax", "static"] = Field(description="Kind of calculation")
    status: Literal["ok", "failed"] = Field(description="ok, or failed after the recovery ladder")
    error: str | None = Field(None, description="One-line reason when status is failed")
    site_id: str | None = Field(None, description="ARSC site id, e.g. Fe-Co_qv-n6_graphene")
    adsorbate: str = Field("bare", description="Intermediate name, or 'bare' for the clean site")
    mode: str | None = Field(None, description="Binding mode: top1, top2, bridge, side-on")
    formula: str = Field(description="Chemical formula of the final structure")
    natoms: int = Field(description="Number of atoms, count")
    energy: float | None = Field(
        None, description="Total energy extrapolated to zero smearing (E0), eV"
    )
    free_energy: float | None = Field(
        None, description="Electronic free energy with smearing (F), eV"
    )
    magmoms: list[float] = Field(
        default_factory=list, description="Final magnetic moment per atom, mu_B"
    )
    total_magmom: float | None = Field(None, description="Total magnetic moment of the cell, mu_B")
    structure: dict[str, Any] = Field(description="Final structure, pymatgen Structure.as_dict()")
    convergence: Convergence = Field(description="Convergence record")
    settings: dict[str, Any] = Field(
        description="Every setting that changes the result (engine units)"
    )
    settings_hash: str = Field(description="Short hash of `settings`")
    dband: dict[str, DBandAnalysis] = Field(
        default_factory=dict,
        description="d-band moments per metal ('M1', 'M2'); energies in eV relative to E_F",
    )
    anomalies: list[str] = Field(
        default_factory=list,
        description="Flags raised by the DAC anomaly checks (metal left pocket, pair aggregated, "
        "adsorbate desorbed or dissociated)",
    )
    wall_time: float | None = Field(None, description="Wall-clock time of the calculation, s")
    dos: ProjectedDos | None = Field(
        None,
        description="Metal-projected d-DOS arrays (static jobs; jobs store this field in the "
        "additional store 'data')",
    )

    @classmethod
    def from_output(cls, output: Any) -> CalcDoc:
        """Return a CalcDoc from a job output as stored or resolved (dict, monty keys, or CalcDoc).

        jobflow stores a CalcDoc output with ``@module``/``@class`` keys and may
        revive its structure as a pymatgen Structure; both are accepted.
        """
        if isinstance(output, CalcDoc):
            return output
        fields = {k: v for k, v in dict(output).items() if not str(k).startswith("@")}
        return cls.model_validate(fields)

    @field_validator("structure", mode="before")
    @classmethod
    def _structure_as_dict(cls, value: Any) -> Any:
        """Accept a pymatgen Structure: jobflow revives one when it resolves a reference."""
        to_dict = getattr(value, "as_dict", None)
        return to_dict() if callable(to_dict) and not isinstance(value, dict) else value

    def final_atoms(self) -> Atoms:
        """Return the final structure as ASE Atoms."""
        from pymatgen.core import Structure
        from pymatgen.io.ase import AseAtomsAdaptor

        return AseAtomsAdaptor.get_atoms(Structure.from_dict(self.structure))


class StateSummary(BaseModel):
    """One state of a site (bare or adsorbate in a mode): its calculations in brief."""

    adsorbate: str = Field(description="Intermediate name, or 'bare' for the clean site")
    mode: str | None = Field(None, description="Binding mode: top1, top2, bridge, side-on")
    status: Literal["ok", "failed", "missing"] = Field(
        description="ok: the final static finished; failed: a step failed after its recovery "
        "ladder; missing: a step raised or was never run"
    )
    error: str | None = Field(None, description="One-line reason when not ok")
    energy: float | None = Field(None, description="E0 of the final static, eV")
    free_energy: float | None = Field(None, description="F of the final static, eV")
    total_magmom: float | None = Field(None, description="Total magnetic moment, mu_B")
    fingerprints: dict[str, str] = Field(
        default_factory=dict,
        description="Step ('prerelax', 'relax', 'static') -> calculation fingerprint (sha256)",
    )
    ionic_steps: dict[str, int] = Field(
        default_factory=dict, description="Step -> ionic (optimiser) steps, count"
    )
    settings_hash: str | None = Field(None, description="Settings hash of the final static")
    consistent: bool = Field(
        False, description="Settings of the final static equal the bare site's (see reason)"
    )
    reason: str = Field("", description="Why not consistent, or why not ok")
    anomalies: list[str] = Field(
        default_factory=list, description="DAC anomaly flags raised by any step"
    )
    dband: dict[str, DBandAnalysis] = Field(
        default_factory=dict,
        description="d-band moments per metal of the final static; eV relative to E_F",
    )


class ReactionActivity(BaseModel):
    """Activity of one reaction at one site (CHE); None where a number is unknown."""

    reaction: str = Field(description="Reaction name from arsc/data/reactions.yaml")
    overpotential: float | None = Field(None, description="Thermodynamic overpotential, V")
    limiting_potential: float | None = Field(None, description="U_L, V vs RHE")
    equilibrium_potential: float | None = Field(None, description="U_eq, V vs RHE")
    limiting_step: str = Field("", description="Step that sets U_L ('' when unknown)")
    dg: dict[str, float | None] = Field(
        default_factory=dict,
        description="Adsorption free energy of each intermediate, eV, vs its reference molecules",
    )
    modes: dict[str, str] = Field(
        default_factory=dict, description="Binding mode used for each intermediate"
    )
    product: str = Field("", description="Product reached (network reactions)")
    mechanism: str = Field("", description="Branch labels along the path taken (networks)")
    selectivity: dict[str, str] = Field(
        default_factory=dict, description="Competition name -> winning label ('' if unknown)"
    )
    consistent: bool = Field(description="False when a calculation it needs is inconsistent")
    reason: str = Field("", description="Why numbers are unknown; which rows are inconsistent")


class SiteDoc(BaseModel):
    """Everything the adsorption flow learned about one site (the flow's last job)."""

    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(description="ARSC site id, e.g. Fe-Co_qv-n6_graphene")
    engine: str = Field(description="DFT engine of the final statics")
    protocol: str | None = Field(
        None,
        description="Protocol that produced the energies (arsc/data/protocols.yaml: full, sp, "
        "sp-tuned, relax-<n>); None: a document written before protocols were recorded",
    )
    reactions: list[str] = Field(description="Reactions evaluated")
    references: str = Field(
        description="References: gas energies from this flow's own calculations; "
        "Delta(ZPE - TS) corrections from the named arsc references table"
    )
    settings_hash: str | None = Field(
        None, description="Settings hash of the bare site's static, which every state must match"
    )
    consistent: bool = Field(
        description="Every state and gas reference used has the bare site's settings"
    )
    problems: list[str] = Field(
        default_factory=list,
        description="Failed, missing or inconsistent calculations, one line each",
    )
    states: list[StateSummary] = Field(description="Bare site first, then every adsorbed state")
    gas: dict[str, float | None] = Field(
        default_factory=dict, description="Total energy of each reference molecule, eV"
    )
    dg: dict[str, float | None] = Field(
        default_factory=dict,
        description="Adsorption free energy of each intermediate (lowest mode), eV, vs its "
        "reference molecules (CHE, U = 0 V vs RHE)",
    )
    activity: dict[str, ReactionActivity] = Field(
        default_factory=dict, description="Reaction name -> activity"
    )
    dband: dict[str, DBandAnalysis] = Field(
        default_factory=dict,
        description="d-band moments per metal of the bare site; eV relative to E_F",
    )
