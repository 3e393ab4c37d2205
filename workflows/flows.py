"""The DAC adsorption flow: every state of a site through pre-relax, DFT relax and static.

For each site, :class:`DacAdsorptionFlow` builds the bare site and every
intermediate of the chosen reactions (``arsc/data/reactions.yaml``) in each
of its binding modes (:func:`arsc.space.binding_modes`, optionally filtered),
and chains per state::

    build -> MLIP pre-relax -> DFT relax -> DFT static

A step runs on the previous step's final structure when that step succeeded;
a failed pre-relaxation falls back to the built structure, a failed DFT
relaxation ends the state (its failed document is the state's result). The
gas reference molecules the reactions need (H2O, H2, ...; ``ase.build.molecule``
geometries in a cubic box) are relaxed and computed once per flow with the
same DFT Makers; across flows and sites they are reused through their
fingerprints. The last job of each site, :func:`site_summary`, produces the
:class:`workflows.schemas.SiteDoc` (settings-consistency check first, then
free energies, limiting potentials and d-band moments; see
:mod:`workflows.summary`).

Examples
--------
>>> flow = DacAdsorptionFlow(engine="gpaw", preset="fast", reactions=("orr",))  # doctest: +SKIP
>>> options = FlowOptions(engine="gpaw", preset="fast", reactions=["orr"])  # doctest: +SKIP
>>> flow = DacAdsorptionFlow.from_options(options)  # the same Maker  # doctest: +SKIP
>>> jobflow_flow = flow.make(["Fe-Co_qv-n6_graphene"])  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields, is_dataclass, replace
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import molecule
from jobflow import Flow, Job, JobConfig, Maker, OnMissing, Response, job
from pymatgen.io.ase import MSONAtoms

from arsc.errors import ArscInputError, unknown
from arsc.limits import MIN_IMAGE_DISTANCE
from arsc.space import MODES, Site, binding_modes
from arsc.structures import build
from arsc.thermo import load_network
from workflows.engines import get_engine
from workflows.flow_options import FlowOptions
from workflows.schemas import CalcDoc, SiteDoc
from workflows.summary import BARE, StateResult, summarise_site

#: Edge of the cubic cell of a gas molecule, Angstrom: at least 12 A of vacuum
#: around the largest reference molecule (CO2, 2.3 A long), as
#: ``arsc/data/references/gpaw-template.yaml`` asks.
GAS_BOX = 15.0

#: Jobs that must run even when an upstream job raised (they get None for it).
TOLERANT = JobConfig(on_missing_references=OnMissing.NONE)


def reaction_intermediates(reactions: Sequence[str]) -> tuple[str, ...]:
    """Return the intermediates the reactions need, in order of first appearance.

    Raises
    ------
    ArscInputError
        If a reaction is unknown (the message lists the known ones).
    """
    net = load_network()
    out: list[str] = []
    for name in reactions:
        out.extend(x for x in net.reaction_intermediates(name) if x not in out)
    return tuple(out)


def gas_references(intermediates: Sequence[str]) -> tuple[str, ...]:
    """Return the reference molecules the intermediates' free energies need (file order)."""
    net = load_network()
    needed = {m for x in intermediates for m, n in net.intermediates[x].items() if n}
    return tuple(m for m in net.references if m in needed)


def gas_molecule(name: str, box: float = GAS_BOX) -> Atoms:
    """Build a reference molecule (ASE's G2 geometry) centred in a cubic box, moments 0."""
    atoms = molecule(name)
    atoms.set_cell([box, box, box])
    atoms.center()
    atoms.pbc = True
    atoms.set_initial_magnetic_moments(np.zeros(len(atoms)))
    atoms.info = {"adsorbate": name, "mode": "gas"}
    return atoms


def _serialisable(structure: Any) -> Any:
    if isinstance(structure, Atoms) and not isinstance(structure, MSONAtoms):
        return MSONAtoms(structure)
    return structure


@job(config=TOLERANT)
def continue_with(
    previous: Any,
    maker: Maker,
    fallback: Any = None,
    name: str | None = None,
) -> Any:
    """Run ``maker`` on the previous step's result, if it succeeded.

    Parameters
    ----------
    previous
        Output (CalcDoc as a dict) of the previous step, or None if it raised.
    maker
        Engine Maker of this step (``make(structure)`` accepts a CalcDoc dict).
    fallback
        Structure to start from when the previous step failed (None: stop).
    name
        Name of the job that replaces this one.

    Returns
    -------
    jobflow.Response or dict or None
        A replacement by the step's job; or, when the previous step failed
        and there is no fallback, the previous (failed) document itself.
    """
    doc = CalcDoc.from_output(previous) if previous is not None else None
    if doc is not None and doc.status == "ok":
        nxt = maker.make(previous)
    elif fallback is not None:
        nxt = maker.make(fallback)
    else:
        return previous
    if name:
        nxt.name = name
    return Response(replace=nxt)


@job(config=TOLERANT)
def site_summary(
    site_id: str,
    engine: str,
    reactions: list[str],
    states: list[dict[str, Any]],
    gas: dict[str, Any],
    corrections: str,
) -> SiteDoc:
    """Summarise one site (the last job per site): :func:`workflows.summary.summarise_site`.

    ``states`` holds, per state, ``adsorbate``, ``mode`` and the outputs of
    its steps (``prerelax``, ``relax``, ``static``; None for a step that raised).
    """
    results = [StateResult.from_outputs(s["adsorbate"], s["mode"], s["outputs"]) for s in states]
    return summarise_site(site_id, engine, reactions, results, gas, corrections)


def _has_knob(maker: Maker, name: str) -> bool:
    return is_dataclass(maker) and name in {f.name for f in fields(maker)}


@dataclass
class DacAdsorptionFlow(Maker):
    """Adsorption flow for dual-atom sites (see the module docstring).

    Attributes
    ----------
    name
        Flow name.
    engine
        DFT engine of the relax and static steps (``gpaw``, ``vasp``, ``mlip``).
    preset
        Engine preset (None: the engine's default).
    prerelax
        Pre-relax every state with :attr:`prerelax_engine` first.
    prerelax_engine, prerelax_preset
        Engine and preset of the pre-relaxation (default the MLIP engine).
    prerelax_hessian
        Seed the DFT relaxation's BFGS with the pre-relaxation MLIP's Hessian
        at the pre-relaxed geometry (:mod:`workflows.engines.hessian`), when
        the DFT relax Maker has a ``hessian`` knob and was not given; that
        relaxation then uses BFGS. Off by default: on the bare Fe-Co qv-n6
        site it did not save GPAW steps (docs/engines.md).
    prerelax_weights
        Fine-tuned weights file of the pre-relaxation MLIP
        (:mod:`workflows.engines.finetune`, ``arsc finetune``), used when the
        pre-relax Maker has a ``weights_file`` knob and was not given.
    reactions
        Reactions whose intermediates are computed (``reactions.yaml`` names).
    modes
        Binding modes to compute (None: every mode available for the site).
    min_image
        Smallest metal-image distance of the supercell, Angstrom.
    corrections
        References table whose Delta(ZPE - TS) corrections the SiteDoc uses.
    relax_maker, static_maker, prerelax_maker
        Makers that replace the engine's (fields are the knobs).
    """

    name: str = "dac adsorption"
    engine: str = "gpaw"
    preset: str | None = None
    prerelax: bool = True
    prerelax_engine: str = "mlip"
    prerelax_preset: str | None = None
    prerelax_hessian: bool = False
    prerelax_weights: str | None = None
    reactions: Sequence[str] = ("orr",)
    modes: Sequence[str] | None = None
    min_image: float = MIN_IMAGE_DISTANCE
    corrections: str = "vasp-pbe"
    relax_maker: Maker | None = None
    static_maker: Maker | None = None
    prerelax_maker: Maker | None = None
    elements: str = field(default="default")

    @classmethod
    def from_options(cls, options: FlowOptions, **knobs: Any) -> DacAdsorptionFlow:
        """Return the flow of a :class:`workflows.flow_options.FlowOptions` (the one mapping).

        Every option sets the field of the same name (lists become tuples);
        ``knobs`` set the other fields (``relax_maker``, ``prerelax_hessian``, ...).
        """
        values: dict[str, Any] = {name: getattr(options, name) for name in FlowOptions.model_fields}
        values["reactions"] = tuple(options.reactions)
        values["modes"] = tuple(options.modes) if options.modes is not None else None
        return cls(**values, **knobs)

    def makers(self) -> tuple[Maker | None, Maker, Maker]:
        """Return the (pre-relax, relax, static) Makers; engines and presets are checked here.

        Raises
        ------
        ArscInputError
            Unknown engine or preset, or an engine whose extra is not installed.
        """
        relax, static = self.relax_maker, self.static_maker
        if relax is None or static is None:
            eng = get_engine(self.engine)
            preset = eng.check_preset(self.preset)
            relax = relax if relax is not None else eng.relax(preset)
            static = static if static is not None else eng.static(preset)
        pre = self.prerelax_maker
        if self.prerelax and pre is None:
            pre_eng = get_engine(self.prerelax_engine)
            pre = pre_eng.relax(pre_eng.check_preset(self.prerelax_preset))
            if self.prerelax_weights is not None:
                if not _has_knob(pre, "weights_file"):
                    raise ArscInputError(
                        f"prerelax_weights needs an MLIP pre-relaxation engine, "
                        f"not {self.prerelax_engine!r}"
                    )
                pre = replace(pre, **{"weights_file": self.prerelax_weights})
        if not self.prerelax:
            return None, relax, static
        model = getattr(pre, "model", None)
        seed = self.prerelax_hessian and self.relax_maker is None and model
        if seed and _has_knob(relax, "hessian"):
            # the seed is a BFGS starting Hessian (the default optimiser may be another)
            relax = replace(relax, **{"hessian": model, "optimizer": "BFGS"})
        return pre, relax, static

    def states(self, site: Site) -> list[tuple[str, str | None]]:
        """Return (adsorbate, mode) of every state of a site, the bare site (``bare``, None) first.

        Raises
        ------
        ArscInputError
            Unknown reaction or binding mode.
        """
        wanted = tuple(self.modes) if self.modes is not None else MODES
        for mode in wanted:
            if mode not in MODES:
                raise unknown("binding mode", mode, MODES)
        out: list[tuple[str, str | None]] = [(BARE, None)]
        for ads in reaction_intermediates(self.reactions):
            out.extend((ads, m) for m in binding_modes(site, ads) if m in wanted)
        return out

    def _chain(
        self, atoms: Atoms, label: str, makers: tuple[Maker | None, Maker, Maker]
    ) -> list[Job | Flow]:
        pre, relax, static = makers
        jobs: list[Job | Flow] = []
        start = _serialisable(atoms)
        relax_job: Job | Flow
        if pre is not None:
            first = pre.make(start)
            first.name = f"{label} prerelax"
            relax_job = continue_with(first.output, relax, fallback=start, name=f"{label} relax")
            jobs.append(first)
        else:
            relax_job = relax.make(start)
        relax_job.name = f"{label} relax"
        static_job = continue_with(relax_job.output, static, name=f"{label} static")
        static_job.name = f"{label} static"
        return [*jobs, relax_job, static_job]

    def _gas(
        self, makers: tuple[Maker | None, Maker, Maker]
    ) -> tuple[list[Job | Flow], dict[str, Any]]:
        _, relax, static = makers
        jobs: list[Job | Flow] = []
        outputs: dict[str, Any] = {}
        for mol in gas_references(reaction_intermediates(self.reactions)):
            chain = self._chain(gas_molecule(mol), f"gas {mol}", (None, relax, static))
            jobs.extend(chain)
            outputs[mol] = chain[-1].output
        return jobs, outputs

    def make(self, sites: Sequence[str | Site] | str | Site) -> Flow:
        """Build the flow for one or more sites.

        Parameters
        ----------
        sites
            Site ids (``Fe-Co_qv-n6_graphene``) or :class:`arsc.space.Site` objects.

        Returns
        -------
        jobflow.Flow
            All jobs; its output is the list of SiteDoc outputs, one per site.

        Raises
        ------
        ArscInputError
            Unknown site, reaction, mode, engine or preset.
        """
        items = [sites] if isinstance(sites, str | Site) else list(sites)
        parsed = [s if isinstance(s, Site) else Site.from_id(s, self.elements) for s in items]
        makers = self.makers()
        reactions = [r.strip().lower() for r in self.reactions]
        jobs, gas = self._gas(makers)
        outputs = []
        for site in parsed:
            states = []
            for ads, mode in self.states(site):
                atoms = build(
                    site, None if ads == BARE else ads, mode or "top1", min_image=self.min_image
                )
                label = f"{site.id} {ads}" + (f" {mode}" if mode else "")
                chain = self._chain(atoms, label, makers)
                jobs.extend(chain)
                steps = ("prerelax", "relax", "static")[-len(chain) :]
                outs = {step: j.output for step, j in zip(steps, chain, strict=True)}
                states.append({"adsorbate": ads, "mode": mode, "outputs": outs})
            summary = site_summary(site.id, self.engine, reactions, states, gas, self.corrections)
            summary.name = f"{site.id} summary"
            summary.update_metadata({"arsc_doc": "site", "site_id": site.id})
            jobs.append(summary)
            outputs.append(summary.output)
        return Flow(jobs, output=outputs, name=self.name)
