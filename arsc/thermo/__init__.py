"""Free energies and activity by the computational hydrogen electrode (CHE).

Modules
-------
:mod:`arsc.thermo.references`
    gas-molecule energies and free-energy corrections, one YAML table per DFT setting;
:mod:`arsc.thermo.network`
    reactions as data (``arsc/data/reactions.yaml``);
:mod:`arsc.thermo.energies`
    the energies table and the pick of one calculation per (site, adsorbate);
:mod:`arsc.thermo.che`
    adsorption free energies dG_X;
:mod:`arsc.thermo.activity`
    step free energies, limiting potential, overpotential, selectivity;
:mod:`arsc.thermo.quantities`
    one quantity of a reaction (overpotential, U_L, dG, selectivity) on arrays
    of dG, from a registry of quantities (:data:`QUANTITIES`);
:mod:`arsc.thermo.report`
    the whole chain for a table, and its per-site table and summary;
:mod:`arsc.thermo.vibrations`
    Delta(ZPE - TS) corrections from vibrational frequencies (harmonic
    adsorbates, ideal-gas or experimental molecules);
:mod:`arsc.thermo.diagram`
    free-energy step diagrams of a site (limiting step marked) and their PNG.

See ``docs/thermo.md`` for the equations and conventions.
"""

from arsc.thermo.activity import EVALUATORS, SiteActivity, Step, evaluate_site, limiting_potential
from arsc.thermo.che import SiteFreeEnergies, adsorption_free_energies, free_energy_table
from arsc.thermo.energies import (
    EnergyColumn,
    Selection,
    read_energies,
    select_energies,
    validate_energies,
)
from arsc.thermo.network import ReactionNetwork, load_network, reaction_names, read_network
from arsc.thermo.quantities import (
    QUANTITIES,
    Quantity,
    QuantityRequest,
    QuantitySpec,
    evaluate_quantity,
    quantity_intermediates,
)
from arsc.thermo.references import (
    References,
    dump_references,
    load_references,
    read_references,
    reference_names,
)
from arsc.thermo.report import ActivityReport, check_corrections, compute_activity

__all__ = [
    "EVALUATORS",
    "QUANTITIES",
    "ActivityReport",
    "EnergyColumn",
    "Quantity",
    "QuantityRequest",
    "QuantitySpec",
    "ReactionNetwork",
    "References",
    "Selection",
    "SiteActivity",
    "SiteFreeEnergies",
    "Step",
    "adsorption_free_energies",
    "check_corrections",
    "compute_activity",
    "dump_references",
    "evaluate_quantity",
    "evaluate_site",
    "free_energy_table",
    "limiting_potential",
    "load_network",
    "load_references",
    "quantity_intermediates",
    "reaction_names",
    "read_energies",
    "read_network",
    "read_references",
    "reference_names",
    "select_energies",
    "validate_energies",
]
