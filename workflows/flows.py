"""The DAC adsorption flow: every state of a site through pre-relax, DFT relax and static.

For each site, :class:`DacAdsorptionFlow` builds the bare site and every
intermediate of the chosen reactions (``arsc/data/reactions.yaml``) in each
of its binding modes (:func:`arsc.space.binding_modes`, optionally filtered),
and chains per state, as its protocol (:mod:`workflows.protocols`) says::

    full      build -> MLIP pre-relax -> DFT relax -> DFT static
    sp        build -> MLIP relax -> DFT static   (sp-tuned: with fine-tuned weights)
    relax-N   build -> MLIP pre-relax -> N DFT relax steps -> DFT static

A step runs on the previous step's final structure when that step succeeded;
a failed pre-relaxation falls back to the built structure, a failed DFT
relaxation ends the state (its failed document is the state's result), except
that a ``relax-N`` relaxation that used up its N steps goes on. With
``placements=k`` every intermediate starts from several placements instead
(:mod:`arsc.placements`: binding modes x tilts x rotations x heights), each
relaxed with the MLIP, and only the k lowest distinct end points without an
adsorbate anomaly go on to DFT (:mod:`workflows.placements`). Every job of
the flow carries the protocol and the MLIP weights (file, SHA-256) in its
metadata (``protocol``, ``mlip_weights``; ``step`` and ``role`` name its
place in the chain). The
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
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from ase import Atoms
from ase.build import molecule
from jobflow import Flow, Job, Maker, job
from pymatgen.io.ase import MSONAtoms

from arsc.errors import ArscInputError, unknown
from arsc.limits import MIN_IMAGE_DISTANCE
from arsc.placements import PlacementGrid, placement_defaults, placements
from arsc.space import MODES, Site, binding_modes
from arsc.structures import build
from arsc.thermo import load_network
from workflows.chain import TOLERANT, capped_relax, continue_with, has_knob
from workflows.engines import get_engine
from workflows.flow_options import FlowOptions
from workflows.placements import best_placements, select_placements
from workflows.protocols import Protocol, default_protocol, get_protocol
from workflows.schemas import SiteDoc
from workflows.summary import BARE, StateResult, summarise_site
from workflows.tuning import WeightsRecord, weights_record

#: Edge of the cubic cell of a gas molecule, Angstrom: at least 12 A of vacuum
#: around the largest reference molecule (CO2, 2.3 A long), as
#: ``arsc/data/references/gpaw-template.yaml`` asks.
GAS_BOX = 15.0


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


def _flat_states(states: Sequence[Any]) -> list[dict[str, Any]]:
    """One list of states: a placement search's list (or None, if it raised) is spliced in."""
    flat: list[dict[str, Any]] = []
    for entry in states:
        if isinstance(entry, list):
            flat.extend(entry)
        elif isinstance(entry, dict):
            flat.append(entry)
    return best_placements(flat)


@job(config=TOLERANT)
def site_summary(
    site_id: str,
    engine: str,
    reactions: list[str],
    states: list[Any],
    gas: dict[str, Any],
    corrections: str,
    protocol: str | None = None,
) -> SiteDoc:
    """Summarise one site (the last job per site): :func:`workflows.summary.summarise_site`.

    ``states`` holds, per state, ``adsorbate``, ``mode`` and the outputs of
    its steps (``prerelax``, ``relax``, ``static``; None for a step that
    raised), or, per intermediate of a placement search, the list of its kept
    placements' states; of several placements in one mode the one with the
    lowest single-point energy stands for the mode.
    """
    results = [
        StateResult.from_outputs(s["adsorbate"], s["mode"], s["outputs"])
        for s in _flat_states(states)
    ]
    return summarise_site(site_id, engine, reactions, results, gas, corrections, protocol)


Makers = tuple[Maker | None, Maker, Maker]


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
    protocol
        How a state reaches its DFT energy (:mod:`workflows.protocols`):
        ``full``, ``sp``, ``sp-tuned``, ``relax-n`` / ``relax-<n>``.
    prerelax
        Pre-relax every state with :attr:`prerelax_engine` before a DFT
        relaxation (protocols that relax with DFT).
    prerelax_engine, prerelax_preset
        Engine and preset of the MLIP relaxation (pre-relaxation, or the
        relaxation of an ``sp`` protocol; default the MLIP engine).
    prerelax_hessian
        Seed the DFT relaxation's BFGS with the pre-relaxation MLIP's Hessian
        at the pre-relaxed geometry (:mod:`workflows.engines.hessian`), when
        the DFT relax Maker has a ``hessian`` knob and was not given; that
        relaxation then uses BFGS. Off by default: on the bare Fe-Co qv-n6
        site it did not save GPAW steps (docs/engines.md).
    prerelax_weights
        Fine-tuned weights file of the MLIP (:mod:`workflows.engines.finetune`,
        ``arsc finetune``, :func:`workflows.tuning.tune_between_rounds`), used
        when its Maker has a ``weights_file`` knob and was not given; a tuned
        protocol needs it.
    reactions
        Reactions whose intermediates are computed (``reactions.yaml`` names).
    intermediates
        Only these of the reactions' intermediates (None: all of them).
    modes
        Binding modes to compute (None: every mode available for the site).
    placements
        Placement search: the k lowest distinct MLIP end points of every
        intermediate go to DFT; None: one start per binding mode, each to DFT.
    placement_grid
        Tilts, rotations and heights of the placement search (None: the
        defaults of ``arsc/data/protocols.yaml``).
    placement_drop
        Anomaly codes that drop a placement's end point before DFT.
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
    protocol: str = field(default_factory=default_protocol)
    prerelax: bool = True
    prerelax_engine: str = "mlip"
    prerelax_preset: str | None = None
    prerelax_hessian: bool = False
    prerelax_weights: str | None = None
    reactions: Sequence[str] = ("orr",)
    intermediates: Sequence[str] | None = None
    modes: Sequence[str] | None = None
    placements: int | None = None
    placement_grid: PlacementGrid | None = None
    placement_drop: Sequence[str] = field(
        default_factory=lambda: tuple(placement_defaults()["drop"])
    )
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

    def get_protocol(self) -> Protocol:
        """Return the flow's protocol (raises a one-line ArscInputError if unknown)."""
        return get_protocol(self.protocol)

    def _mlip(self) -> Maker:
        """Return the MLIP relaxation Maker: prerelax engine and preset, with the weights."""
        if self.prerelax_maker is not None:
            return self.prerelax_maker
        eng = get_engine(self.prerelax_engine)
        pre = eng.relax(eng.check_preset(self.prerelax_preset))
        if self.prerelax_weights is not None:
            if not has_knob(pre, "weights_file"):
                raise ArscInputError(
                    f"prerelax_weights needs an MLIP pre-relaxation engine, "
                    f"not {self.prerelax_engine!r}"
                )
            pre = replace(pre, **{"weights_file": self.prerelax_weights})
        return pre

    def makers(self) -> Makers:
        """Return the (pre-relax, relax, static) Makers of the protocol; checks names first.

        Raises
        ------
        ArscInputError
            Unknown engine, preset or protocol, an engine whose extra is not
            installed, or a tuned protocol without ``prerelax_weights``.
        """
        proto = self.get_protocol()
        if proto.tuned and self.prerelax_weights is None and self.prerelax_maker is None:
            raise ArscInputError(
                f"protocol {proto.name} relaxes with CHGNet fine-tuned on the project's DFT "
                "frames: give prerelax_weights (`arsc finetune` writes them)"
            )
        relax, static = self.relax_maker, self.static_maker
        if relax is None or static is None:
            eng = get_engine(self.engine)
            preset = eng.check_preset(self.preset)
            static = static if static is not None else eng.static(preset)
            if relax is None and proto.relax == "dft":
                relax = eng.relax(preset)
                if proto.dft_steps is not None:
                    relax = capped_relax(relax, proto.dft_steps)
        if relax is None:  # the protocol relaxes with the MLIP
            return None, self._mlip(), static
        if not self.prerelax or proto.relax == "mlip":
            return None, relax, static
        pre = self._mlip()
        model = getattr(pre, "model", None)
        seed = self.prerelax_hessian and self.relax_maker is None and model
        if seed and has_knob(relax, "hessian"):
            # the seed is a BFGS starting Hessian (the default optimiser may be another)
            relax = replace(relax, **{"hessian": model, "optimizer": "BFGS"})
        return pre, relax, static

    def mlip_weights(self, makers: Makers | None = None) -> WeightsRecord | None:
        """Return the weights of the MLIP that relaxes (or pre-relaxes) the states, if any.

        Raises
        ------
        ArscInputError
            The MLIP's packaged weights are not installed, or its tuned file is missing.
        """
        pre, relax, _ = makers or self.makers()
        for maker in (pre, relax):
            if maker is not None and has_knob(maker, "weights_file"):
                return weights_record(str(getattr(maker, "model", "chgnet")), maker.weights_file)  # type: ignore[attr-defined]
        return None

    def _intermediates(self) -> tuple[str, ...]:
        found = reaction_intermediates(self.reactions)
        if self.intermediates is None:
            return found
        for name in self.intermediates:
            if name not in found:
                raise unknown(f"intermediate of {', '.join(self.reactions)}", name, found)
        return tuple(x for x in found if x in self.intermediates)

    def _wanted_modes(self) -> tuple[str, ...]:
        wanted = tuple(self.modes) if self.modes is not None else MODES
        for mode in wanted:
            if mode not in MODES:
                raise unknown("binding mode", mode, MODES)
        return wanted

    def states(self, site: Site) -> list[tuple[str, str | None]]:
        """Return (adsorbate, mode) of every state of a site, the bare site (``bare``, None) first.

        Raises
        ------
        ArscInputError
            Unknown reaction, intermediate or binding mode.
        """
        wanted = self._wanted_modes()
        out: list[tuple[str, str | None]] = [(BARE, None)]
        for ads in self._intermediates():
            out.extend((ads, m) for m in binding_modes(site, ads) if m in wanted)
        return out

    def _chain(self, atoms: Atoms, label: str, makers: Makers) -> list[Job | Flow]:
        pre, relax, static = makers
        proto = self.get_protocol()
        jobs: list[Job | Flow] = []
        start = _serialisable(atoms)
        relax_job: Job | Flow
        if pre is not None:
            first = pre.make(start)
            first.name = f"{label} prerelax"
            first.update_metadata({"step": "prerelax", "role": "mlip"}, dynamic=False)
            relax_job = continue_with(first.output, relax, fallback=start, name=f"{label} relax")
            jobs.append(first)
        else:
            relax_job = relax.make(start)
        relax_job.name = f"{label} relax"
        relax_job.update_metadata({"step": "relax", "role": proto.relax}, dynamic=False)
        static_job = continue_with(
            relax_job.output, static, name=f"{label} static", accept_capped=proto.capped
        )
        static_job.name = f"{label} static"
        static_job.update_metadata({"step": "static", "role": "dft"}, dynamic=False)
        return [*jobs, relax_job, static_job]

    def _gas(self, makers: Makers) -> tuple[list[Job | Flow], dict[str, Any]]:
        _, relax, static = makers
        if self.prerelax_weights is not None and has_knob(relax, "weights_file"):
            # Gas molecules relax with the packaged weights: the tuned model learnt the
            # project's sites, and references shared by every round are computed once.
            relax = replace(relax, **{"weights_file": None})
        jobs: list[Job | Flow] = []
        outputs: dict[str, Any] = {}
        for mol in gas_references(self._intermediates()):
            chain = self._chain(gas_molecule(mol), f"gas {mol}", (None, relax, static))
            jobs.extend(chain)
            outputs[mol] = chain[-1].output
        return jobs, outputs

    def _search(self, site: Site, ads: str, makers: Makers) -> tuple[list[Job | Flow], Job]:
        """Return the MLIP jobs of every placement of ``ads`` and the job that selects."""
        pre, relax, static = makers
        proto = self.get_protocol()
        mlip = relax if proto.relax == "mlip" else pre
        if mlip is None:
            raise ArscInputError(
                "placements are screened with the MLIP pre-relaxation: set prerelax on "
                "(or use a protocol that relaxes with the MLIP, e.g. sp)"
            )
        step = "relax" if proto.relax == "mlip" else "prerelax"
        starts = placements(
            site, ads, self._wanted_modes(), self.placement_grid, min_image=self.min_image
        )
        jobs: list[Job | Flow] = []
        entries = []
        for start in starts:
            screen = mlip.make(_serialisable(start.atoms))
            screen.name = f"{site.id} {ads} {start.label} screen"
            screen.update_metadata(
                {"step": step, "role": "mlip", "placement": start.label}, dynamic=False
            )
            jobs.append(screen)
            entries.append({"placement": start.label, "mode": start.mode, "doc": screen.output})
        grid = self.placement_grid or PlacementGrid()
        select = select_placements(
            site.id,
            ads,
            entries,
            int(self.placements or 1),
            {
                "tolerance": grid.tolerance,
                "neighbours": grid.neighbours,
                "drop": list(self.placement_drop),
            },
            relax if proto.relax == "dft" else None,
            static,
            step,
            proto.capped,
        )
        select.name = f"{site.id} {ads} select"
        select.update_metadata(
            {"arsc_doc": "placements", "site_id": site.id, "adsorbate": ads}, dynamic=False
        )
        return jobs, select

    def _site(self, site: Site, makers: Makers) -> tuple[list[Job | Flow], list[Any]]:
        """Return the jobs of one site and the output of each state (or placement search)."""
        jobs: list[Job | Flow] = []
        states: list[Any] = []
        searched: set[str] = set()
        for ads, mode in self.states(site):
            if ads != BARE and self.placements:
                if ads not in searched:
                    searched.add(ads)
                    screens, select = self._search(site, ads, makers)
                    jobs.extend([*screens, select])
                    states.append(select.output)
                continue
            atoms = build(
                site, None if ads == BARE else ads, mode or "top1", min_image=self.min_image
            )
            label = f"{site.id} {ads}" + (f" {mode}" if mode else "")
            chain = self._chain(atoms, label, makers)
            jobs.extend(chain)
            steps = ("prerelax", "relax", "static")[-len(chain) :]
            outs = {step: j.output for step, j in zip(steps, chain, strict=True)}
            states.append({"adsorbate": ads, "mode": mode, "outputs": outs})
        return jobs, states

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
            Every job's metadata holds ``protocol`` and ``mlip_weights``.

        Raises
        ------
        ArscInputError
            Unknown site, reaction, intermediate, mode, engine, preset or
            protocol; MLIP weights that are not installed.
        """
        items = [sites] if isinstance(sites, str | Site) else list(sites)
        parsed = [s if isinstance(s, Site) else Site.from_id(s, self.elements) for s in items]
        makers = self.makers()
        weights = self.mlip_weights(makers)
        protocol = self.get_protocol()
        reactions = [r.strip().lower() for r in self.reactions]
        jobs, gas = self._gas(makers)
        gas_jobs = list(jobs)
        outputs = []
        for site in parsed:
            site_jobs, states = self._site(site, makers)
            jobs.extend(site_jobs)
            summary = site_summary(
                site.id, self.engine, reactions, states, gas, self.corrections, protocol.name
            )
            summary.name = f"{site.id} summary"
            summary.update_metadata({"arsc_doc": "site", "site_id": site.id})
            jobs.append(summary)
            outputs.append(summary.output)
        flow = Flow(jobs, output=outputs, name=self.name)
        flow.update_metadata(
            {
                "protocol": protocol.name,
                "mlip_weights": weights.model_dump() if weights is not None else None,
            }
        )
        if self.prerelax_weights is not None and weights is not None:
            packaged = weights_record(weights.model).model_dump()  # what _gas relaxes with
            for job in gas_jobs:
                job.update_metadata({"mlip_weights": packaged})
        return flow
