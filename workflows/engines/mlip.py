"""MLIP engine: pre-relaxation and single points with an offline universal potential.

Models (CHGNet, SevenNet) and their weights are listed in
``workflows/data/mlip_models.yaml``; both ship their weights in their
wheels, so nothing is downloaded at run time. Needs the optional extra
``arsc-dac[mlip]`` (``torch==2.13.0``, ``chgnet==0.4.2``); importing this
module without torch or chgnet raises ImportError, which
:func:`workflows.engines.get_engine` turns into a one-line message naming
the extra.

Examples
--------
>>> from workflows.engines import get_engine
>>> maker = get_engine("mlip").relax("chgnet")  # doctest: +SKIP
>>> doc = maker.run(atoms)  # in-process, or maker.make(atoms) for a jobflow Job  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import io
import time
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, redirect_stdout
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import chgnet  # noqa: F401  (the extra's marker: ImportError here names the extra)
import torch
from ase import Atoms
from ase.calculators.calculator import Calculator
from ase.constraints import FixAtoms

from arsc.errors import ArscInputError, unknown
from arsc.structures import TAG_ADSORBATE
from workflows.anomalies import check_anomalies
from workflows.engines.ase_maker import AseCalcMaker, build_calc_doc
from workflows.engines.atoms import max_force
from workflows.engines.base import Engine, load_data, register_engine
from workflows.engines.recovery import RecoveryStep, parse_ladder
from workflows.engines.relax import RelaxSettings, relax_with_ladder, work_dir
from workflows.engines.trajectory import resume_from_trajectory
from workflows.fingerprint import file_digest
from workflows.schemas import CalcDoc, Convergence

#: The model table and the MLIP relaxation defaults (``workflows/data``).
MODELS_FILE = "mlip_models.yaml"


def models() -> dict[str, dict[str, Any]]:
    """Return the model table (name -> package, pip requirement, weights, reason)."""
    return dict(load_data(MODELS_FILE)["models"])


def _quiet_chgnet() -> None:
    # chgnet 0.4.2 converts a grad-tracking tensor to a float on every call; harmless, noisy
    warnings.filterwarnings(
        "ignore", message="Converting a tensor with requires_grad=True", category=UserWarning
    )


def _chgnet_model(weights: str, weights_file: str | None = None) -> Any:
    """Return a CHGNet model: the packaged ``weights``, or a fine-tuned weights file."""
    from chgnet.model import CHGNet

    _quiet_chgnet()
    # CHGNet prints a banner on stdout ("CHGNet v0.3.0 initialized ...") in every
    # worker process; the model and weights are recorded in the settings instead
    with redirect_stdout(io.StringIO()):
        if weights_file is None:
            return CHGNet.load(model_name=weights, use_device="cpu", verbose=False)
        return CHGNet.from_file(weights_file)


def base_chgnet() -> Any:
    """Return a fresh CHGNet model with the weights listed in ``mlip_models.yaml``."""
    return _chgnet_model(str(models()["chgnet"]["weights"]))


def _chgnet(weights: str, weights_file: str | None = None) -> Calculator:
    from chgnet.model.dynamics import CHGNetCalculator

    model = _chgnet_model(weights, weights_file)
    with redirect_stdout(io.StringIO()):  # "CHGNet will run on cpu"
        return CHGNetCalculator(model=model, use_device="cpu", on_isolated_atoms="ignore")


def _sevenn(weights: str, weights_file: str | None = None) -> Calculator:
    from sevenn.calculator import SevenNetCalculator

    if weights_file is not None:
        raise ArscInputError("fine-tuned weights files are supported for chgnet only")
    return SevenNetCalculator(model=weights, device="cpu")


#: Model name -> calculator factory taking the weights name and an optional tuned-weights file.
LOADERS: dict[str, Callable[[str, str | None], Calculator]] = {
    "chgnet": _chgnet,
    "sevenn": _sevenn,
}


@cache
def load_calculator(model: str, weights_file: str | None = None) -> Calculator:
    """Return the (cached) ASE calculator of a model.

    Parameters
    ----------
    model
        A name of ``mlip_models.yaml``.
    weights_file
        Fine-tuned weights of that model (:mod:`workflows.engines.finetune`)
        instead of the packaged ones.

    Raises
    ------
    ArscInputError
        Unknown model, its package is not installed (the message says what to
        install), or the weights file is missing.
    """
    table = models()
    if model not in table or model not in LOADERS:
        raise unknown("MLIP model", model, table)
    entry = table[model]
    try:
        importlib.import_module(entry["package"])
    except ImportError:
        raise ArscInputError(
            f"MLIP model {model!r} needs the package {entry['package']}; "
            f"install it: pip install '{entry['pip']}'"
        ) from None
    if weights_file is not None and not Path(weights_file).is_file():
        raise ArscInputError(f"MLIP weights file {weights_file} not found")
    return LOADERS[model](str(entry["weights"]), weights_file)


def model_version(model: str, weights_file: str | None = None) -> str:
    """Package version and weights of a model, recorded in the settings.

    A fine-tuned weights file is named by its SHA-256 (first 16 hex digits), so
    two different tunings never share a fingerprint and a moved file still does.
    """
    load_calculator(model, weights_file)  # checks the name, the package and the file
    entry = models()[model]
    version = importlib.import_module(entry["package"]).__version__
    weights = str(entry["weights"])
    if weights_file is not None:
        weights = f"{weights} fine-tuned sha256:{file_digest(weights_file)}"
    return f"{entry['package']} {version}, weights {weights}"


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Use ``n`` torch threads inside the block (one was fastest here: platform.md)."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _results(atoms: Atoms) -> dict[str, Any]:
    energy = float(atoms.get_potential_energy())
    mags = atoms.calc.results.get("magmoms") if atoms.calc is not None else None
    out: dict[str, Any] = {"energy": energy}
    if mags is not None:
        out["magmoms"] = [float(m) for m in mags]
        out["total_magmom"] = float(sum(out["magmoms"]))
    return out


@dataclass
class MlipStaticMaker(AseCalcMaker):
    """Single point with a universal potential.

    Attributes
    ----------
    name
        Job name.
    model
        ``chgnet`` or ``sevenn`` (see ``mlip_models.yaml``).
    threads
        torch threads (does not change the result).
    weights_file
        Fine-tuned weights of ``model`` (:mod:`workflows.engines.finetune`);
        None: the packaged weights.
    """

    name: str = "mlip static"
    model: str = "chgnet"
    threads: int = 1
    weights_file: str | None = None

    engine = "mlip"
    task = "static"

    def settings(self) -> dict[str, Any]:
        """Model and weights (with package version)."""
        return {"model": self.model, "version": model_version(self.model, self.weights_file)}

    def compute(self, atoms: Atoms, fingerprint: str) -> CalcDoc:
        """Evaluate energy, forces and (CHGNet) magnetic moments."""
        start = time.perf_counter()
        with torch_threads(self.threads):
            atoms.calc = load_calculator(self.model, self.weights_file)
            out = _results(atoms)
            fmax = max_force(atoms)
        return build_calc_doc(
            fingerprint=fingerprint,
            engine=self.engine,
            task=self.task,
            atoms=atoms,
            settings=self.settings(),
            convergence=Convergence(
                converged=True,
                ionic_steps=0,
                scf_iterations=None,
                fmax=fmax,
                fmax_target=None,
                last_energy_change=None,
            ),
            anomalies=check_anomalies(atoms, atoms),
            wall_time=time.perf_counter() - start,
            **out,
        )


def optimizer_ladder() -> dict[str, list[RecoveryStep]]:
    """Return the optimiser part of the failure ladder (``gpaw_presets.yaml``)."""
    return {"optimizer": parse_ladder(load_data("gpaw_presets.yaml")["recovery"])["optimizer"]}


@dataclass
class MlipRelaxMaker(RelaxSettings, MlipStaticMaker):
    """Relaxation (pre-relaxation before DFT) with a universal potential.

    The optimiser knobs ``fmax``, ``steps``, ``optimizer`` and ``maxstep``
    are those of :class:`~workflows.engines.relax.RelaxSettings`, with
    defaults from ``mlip_models.yaml`` (``relax``). A relaxation not
    converged within ``steps`` climbs the optimiser part of the failure
    ladder (smaller maxstep, then FIRE) before it is recorded as failed.

    Attributes
    ----------
    scratch_dir
        Folder for the trajectory and optimiser log (default: the working
        directory); a re-run after a kill resumes from the trajectory there.
    adsorbate_only
        Move only the adsorbate atoms (tag 4, :data:`arsc.structures.TAG_ADSORBATE`);
        the site stays where it is, e.g. a DFT-relaxed bare site on which the
        adsorbate was placed (:func:`arsc.structures.add_adsorbate`).
    """

    name: str = "mlip relax"
    scratch_dir: str | None = None
    adsorbate_only: bool = False

    task = "relax"
    relax_defaults = MODELS_FILE

    def settings(self) -> dict[str, Any]:
        """Model, weights and the optimiser knobs."""
        return self.settings_of(self.optimizer_params())

    def settings_of(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """Return the settings with an attempt's optimiser and maxstep (after ladder changes)."""
        return {
            **super().settings(),
            **self.relax_knobs(params),
            # only when set, so that the keys of whole-structure relaxations stay as they were
            **({"adsorbate_only": True} if self.adsorbate_only else {}),
        }

    def compute(self, atoms: Atoms, fingerprint: str) -> CalcDoc:
        """Relax with the failure ladder; record anomalies against the input structure."""
        start = time.perf_counter()
        initial = atoms.copy()
        folder = work_dir(self.scratch_dir, self.engine, self.task, fingerprint)
        resumed = resume_from_trajectory(atoms, folder / "relax.traj")
        calc = load_calculator(self.model, self.weights_file)
        if self.adsorbate_only:
            atoms.set_constraint(FixAtoms(mask=atoms.get_tags() != TAG_ADSORBATE))

        def attach(target: Atoms, params: Mapping[str, Any]) -> None:
            target.calc = calc

        with torch_threads(self.threads):
            result = relax_with_ladder(
                atoms,
                params=self.optimizer_params(),
                ladder=optimizer_ladder(),
                attach=attach,
                fmax=self.fmax,
                steps=self.steps,
                folder=folder,
                steps_before=resumed.steps,
            )
            out = _results(atoms)
        atoms.set_constraint()
        if result.convergence.fmax is None:
            result.convergence.fmax = max_force(atoms)
        return self.relax_doc(fingerprint, atoms, initial, result, start, **out)


ENGINE: Engine = register_engine(
    Engine(
        name="mlip",
        description="universal machine-learned potential (CHGNet or SevenNet) through ASE",
        relax=lambda preset: MlipRelaxMaker(model=ENGINE.check_preset(preset)),
        static=lambda preset: MlipStaticMaker(model=ENGINE.check_preset(preset)),
        presets=tuple(models()),
    )
)
