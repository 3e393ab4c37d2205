"""``arsc finetune``: fine-tune CHGNet on a project's own GPAW frames.

A project's frames are the GPAW relaxation trajectories and the single
points (``static.traj``) under ``PROJECT/runs`` that belong to a DAC site (a
tagged metal pair); the gas-reference molecules are left out. So a project
that only ran single points on MLIP-relaxed structures (``arsc screen``'s
default) has frames too: DFT forces exactly where the MLIP is wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from arsc.errors import ArscInputError
from arsc.outputs import check_output_folder
from workflows.cli.options import bounded, console
from workflows.settings import get_settings

if TYPE_CHECKING:
    from ase import Atoms

#: Where a project's fine-tuned model goes (under the project folder).
MODELS_FOLDER = "models/chgnet-finetuned"


def trajectories(project: Path) -> list[Path]:
    """Return a project's GPAW frame files: relaxation trajectories, then single points."""
    from workflows.engines.trajectory import STATIC_FRAME

    runs = project / "runs"
    return sorted(runs.glob("gpaw-relax-*/relax.traj")) + sorted(
        runs.glob(f"gpaw-static-*/{STATIC_FRAME}")
    )


def site_frames(frames: list[Atoms]) -> list[Atoms]:
    """Return the frames of DAC sites (tagged metal pair), leaving out gas molecules."""
    from arsc.structures import TAG_M1

    return [a for a in frames if TAG_M1 in a.get_tags()]


def finetune(
    traj: Annotated[
        list[Path] | None,
        typer.Option(
            "--traj", help="Trajectory files (default: the project's GPAW frames of DAC sites)."
        ),
    ] = None,
    project: Annotated[
        Path | None, typer.Option("--project", help="Project folder (default from settings).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help=f"Model folder (default: PROJECT/{MODELS_FOLDER})."),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            "--epochs",
            callback=bounded(1, 10000),
            help="Training epochs, 1-10000 (default: mlip_models.yaml).",
        ),
    ] = None,
    every: Annotated[
        int,
        typer.Option(
            "--every", callback=bounded(1, 100000), help="Use every n-th frame of each trajectory."
        ),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fine-tune CHGNet on DFT frames; pre-relax with it via `arsc run --prerelax-weights`."""
    from workflows.engines.base import get_engine

    get_engine("mlip")  # a missing MLIP extra is a one-line error naming it
    from workflows.engines.finetune import ChgnetFinetune, read_frames

    settings = get_settings(project=project)
    files = list(traj) if traj else trajectories(settings.project)
    for f in files:
        if not f.is_file():
            raise ArscInputError(f"--traj {str(f)!r} is not a file")
    out_dir = check_output_folder(output or settings.project / MODELS_FOLDER, files)
    frames = read_frames(files, every=every)
    if not traj:
        frames = site_frames(frames)
    if not frames:
        raise ArscInputError(
            f"no GPAW frames of a DAC site under {settings.project / 'runs'}; "
            "run `arsc run SITE_IDS...` or `arsc screen` first, or give --traj"
        )
    tuner = ChgnetFinetune() if epochs is None else ChgnetFinetune(epochs=epochs)
    if not as_json:
        console().print(
            f"fine-tuning CHGNet on {len(frames)} frames of {len(files)} files "
            f"({tuner.epochs} epochs, log in {out_dir / 'train.log'})"
        )
    result = tuner.run(frames, out_dir)
    if as_json:
        typer.echo(json.dumps({"trajectories": [str(f) for f in files], **result.model_dump()}))
        return
    console().print(
        f"validation force MAE {result.force_mae_before:.3f} -> {result.force_mae_after:.3f} eV/A "
        f"({result.n_validation} held-out frames); model: {result.weights_file}\n"
        f"use it: arsc run SITE_IDS... --prerelax-weights {result.weights_file}"
    )


def register(app: typer.Typer) -> None:
    """Add this module's verbs to the app."""
    app.command("finetune")(finetune)
