"""Fine-tune CHGNet on the campaign's own DFT frames, so that its pre-relaxation lands near DFT.

The universal potentials that run offline here are trained on MPtrj
(bulk PBE/PBE+U) and misplace the metal pair of an M2N6 site: CHGNet opens
Fe-Co to 2.56 A where PBE has 2.19 A, so a GPAW relaxation started from the
CHGNet geometry saves no steps (docs/engines.md). Every GPAW relaxation of a
campaign leaves a trajectory with energies and forces for each ionic step;
fine-tuning CHGNet on the frames of sites already computed (siblings: other
metal pairs on the same support) teaches it the pocket, and the tuned model
then pre-relaxes the next sites.

Recipe (CHGNet's fine-tuning tutorial, Deng et al. 2023): the elemental
reference energies (the composition model) are refitted by least squares to
the DFT energies first, since GPAW's energy zero differs from VASP's; the
embeddings and the first interaction blocks stay frozen; the last atom
convolution and the readout are trained on energies and forces with Adam.
Knobs and their defaults are in ``workflows/data/mlip_models.yaml``
(``finetune``).

Examples
--------
>>> frames = read_frames(["runs/gpaw-relax-1/relax.traj"])  # doctest: +SKIP
>>> result = ChgnetFinetune().run(frames, "models/chgnet-tuned")  # doctest: +SKIP
>>> MlipRelaxMaker(weights_file=result.weights_file)  # doctest: +SKIP
"""

from __future__ import annotations

import random
import tempfile
from collections.abc import Iterable, Sequence
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ase import Atoms
from ase.io import read
from pydantic import BaseModel, Field

from arsc.errors import ArscInputError
from workflows.engines.base import load_data

#: File name of a fine-tuned model inside its output folder.
WEIGHTS_NAME = "chgnet-finetuned.pth.tar"


def _default(key: str) -> Any:
    return load_data("mlip_models.yaml")["finetune"][key]


def read_frames(paths: Iterable[str | Path], every: int = 1) -> list[Atoms]:
    """Return the frames with energy and forces of ASE trajectories (e.g. GPAW ``relax.traj``).

    Parameters
    ----------
    paths
        Trajectory files.
    every
        Keep every n-th frame of each file (the last frame, the minimum, is always kept).

    Raises
    ------
    ArscInputError
        A file is missing or unreadable, or holds no frame with energy and forces.
    """
    frames: list[Atoms] = []
    for path in paths:
        try:
            images = read(str(path), ":")
        except Exception as exc:  # ase raises many types for a truncated or foreign file
            raise ArscInputError(f"cannot read trajectory {path}: {exc}") from None
        labelled = [a for a in images if a.calc is not None and "forces" in a.calc.results]
        if not labelled:
            raise ArscInputError(f"trajectory {path} has no frame with energy and forces")
        picked = labelled[::every]
        if picked[-1] is not labelled[-1]:
            picked.append(labelled[-1])
        frames.extend(picked)
    return frames


def _energy(atoms: Atoms) -> float:
    """Energy whose gradient the forces are (the free energy under smearing), eV."""
    results = atoms.calc.results
    return float(results.get("free_energy", results["energy"]))


class FinetuneResult(BaseModel):
    """What a fine-tuning produced and how well the tuned model fits its frames."""

    weights_file: str = Field(description="path of the tuned model (CHGNet .pth.tar)")
    n_frames: int = Field(description="DFT frames used (training + validation)")
    n_validation: int = Field(description="frames held out for validation")
    epochs: int = Field(description="training epochs run")
    force_mae_before: float = Field(description="validation force MAE of the base model, eV/A")
    force_mae_after: float = Field(description="validation force MAE of the tuned model, eV/A")
    energy_mae_after: float = Field(description="validation energy MAE of the tuned model, eV/atom")


def _structures(frames: Sequence[Atoms]) -> list[Any]:
    from pymatgen.io.ase import AseAtomsAdaptor

    return [AseAtomsAdaptor.get_structure(a) for a in frames]


def _predict(model: Any, structures: Sequence[Any], task: str) -> list[dict[str, Any]]:
    preds = model.predict_structure(list(structures), task=task, batch_size=4)
    return preds if isinstance(preds, list) else [preds]


def _force_mae(model: Any, structures: Sequence[Any], frames: Sequence[Atoms]) -> float:
    preds = _predict(model, structures, "ef")
    errors = [np.abs(p["f"] - a.get_forces()).mean() for p, a in zip(preds, frames, strict=True)]
    return float(np.mean(errors))


def _energy_residuals(model: Any, structures: Sequence[Any], frames: Sequence[Atoms]) -> np.ndarray:
    """DFT minus model energy per atom of each frame, eV/atom."""
    preds = _predict(model, structures, "e")
    return np.array(
        [_energy(a) / len(a) - float(p["e"]) for p, a in zip(preds, frames, strict=True)]
    )


def refit_composition_model(model: Any, structures: Sequence[Any], frames: Sequence[Atoms]) -> None:
    """Shift the elemental reference energies so the model's energies match the DFT zero.

    Least squares (minimum norm) of the per-atom energy residuals on the
    element fractions; elements not in the frames are untouched.
    """
    residual = _energy_residuals(model, structures, frames)
    weight = model.composition_model.fc.weight  # (1, n_elements): eV per atom of element Z
    fractions = np.zeros((len(frames), weight.shape[1]))
    for row, atoms in zip(fractions, frames, strict=True):
        for z in atoms.numbers:
            row[z - 1] += 1.0 / len(atoms)
    shift, *_ = np.linalg.lstsq(fractions, residual, rcond=None)
    with torch.no_grad():
        weight += torch.tensor(shift, dtype=weight.dtype).view(1, -1)


def _freeze(model: Any, trainable_convs: int) -> None:
    """Freeze everything but the last ``trainable_convs`` atom convolutions and the readout."""
    for param in model.parameters():
        param.requires_grad = False
    trainable = [*model.atom_conv_layers[-trainable_convs:], model.site_wise, model.mlp]
    if model.readout_norm is not None:
        trainable.append(model.readout_norm)
    for module in trainable:
        for param in module.parameters():
            param.requires_grad = True


def _loader(structures: list[Any], frames: list[Atoms], batch_size: int, shuffle: bool) -> Any:
    from chgnet.data.dataset import StructureData, collate_graphs
    from torch.utils.data import DataLoader

    data = StructureData(
        structures,
        energies=[_energy(a) / len(a) for a in frames],  # CHGNet learns energy per atom
        forces=[a.get_forces().tolist() for a in frames],
        shuffle=False,
    )
    return DataLoader(data, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_graphs)


@dataclass
class ChgnetFinetune:
    """Fine-tune CHGNet (weights from ``mlip_models.yaml``) on DFT frames.

    Attributes
    ----------
    epochs
        Passes over the training frames.
    learning_rate
        Adam learning rate (cosine decay over the epochs).
    batch_size
        Frames per optimiser step.
    force_loss_ratio
        Weight of the force loss relative to the energy loss (per atom).
    trainable_convs
        Atom convolution blocks trained, counted from the last (the readout always is).
    validation_fraction
        Share of the frames held out to measure the fit.
    seed
        Seed of the frame split and of torch.
    threads
        torch threads.
    """

    epochs: int = field(default_factory=lambda: int(_default("epochs")))
    learning_rate: float = field(default_factory=lambda: float(_default("learning_rate")))
    batch_size: int = field(default_factory=lambda: int(_default("batch_size")))
    force_loss_ratio: float = field(default_factory=lambda: float(_default("force_loss_ratio")))
    trainable_convs: int = field(default_factory=lambda: int(_default("trainable_convs")))
    validation_fraction: float = field(
        default_factory=lambda: float(_default("validation_fraction"))
    )
    seed: int = 0
    threads: int = 1

    def run(self, frames: Sequence[Atoms], out_dir: str | Path) -> FinetuneResult:
        """Fine-tune on ``frames`` and write the model to ``out_dir/chgnet-finetuned.pth.tar``.

        The training log goes to ``out_dir/train.log``.

        Raises
        ------
        ArscInputError
            Fewer than 4 frames, or a frame without energy and forces.
        """
        from workflows.engines.mlip import base_chgnet, torch_threads

        train, val = self.split(frames)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        log = (out / "train.log").open("w")
        with log, torch_threads(self.threads), redirect_stdout(log):
            torch.manual_seed(self.seed)
            model = base_chgnet()
            train_s, val_s = _structures(train), _structures(val)
            before = _force_mae(model, val_s, val)
            refit_composition_model(model, train_s, train)
            _freeze(model, self.trainable_convs)
            self._train(
                model,
                _loader(train_s, train, self.batch_size, shuffle=True),
                _loader(val_s, val, self.batch_size, shuffle=False),
            )
            model.eval()
            after = _force_mae(model, val_s, val)
            energy_after = float(np.abs(_energy_residuals(model, val_s, val)).mean())
        weights = out / WEIGHTS_NAME
        torch.save({"model": model.as_dict()}, weights)
        return FinetuneResult(
            weights_file=str(weights),
            n_frames=len(frames),
            n_validation=len(val),
            epochs=self.epochs,
            force_mae_before=before,
            force_mae_after=after,
            energy_mae_after=energy_after,
        )

    def split(self, frames: Sequence[Atoms]) -> tuple[list[Atoms], list[Atoms]]:
        """Return (training, validation) frames, a seeded random split.

        Raises
        ------
        ArscInputError
            Fewer than 4 frames, or a frame without energy and forces.
        """
        if len(frames) < 4:
            raise ArscInputError(f"fine-tuning needs at least 4 DFT frames, got {len(frames)}")
        for i, atoms in enumerate(frames):
            if atoms.calc is None or "forces" not in atoms.calc.results:
                raise ArscInputError(f"frame {i} of the fine-tuning set has no energy and forces")
        order = list(range(len(frames)))
        random.Random(self.seed).shuffle(order)
        n_val = max(1, round(self.validation_fraction * len(frames)))
        return [frames[i] for i in order[n_val:]], [frames[i] for i in order[:n_val]]

    def _train(self, model: Any, train: Any, val: Any) -> None:
        from chgnet.trainer import Trainer

        trainer = Trainer(
            model=model,
            targets="ef",
            force_loss_ratio=self.force_loss_ratio,
            optimizer="Adam",
            scheduler="CosLR",
            criterion="MSE",
            epochs=self.epochs,
            learning_rate=self.learning_rate,
            use_device="cpu",
            print_freq=10**6,
            torch_seed=self.seed,
            data_seed=self.seed,
        )
        # Trainer writes per-epoch checkpoints; the tuned model is saved by run()
        with tempfile.TemporaryDirectory(prefix="chgnet-ckpt-") as checkpoints:
            trainer.train(train, val, save_dir=checkpoints, train_composition_model=False)
