"""``arsc finetune``: fine-tune CHGNet on a project's own GPAW relaxation frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from arsc.errors import ArscInputError
from workflows.cli.options import console
from workflows.settings import get_settings

#: Where a project's fine-tuned model goes (under the project folder).
MODELS_FOLDER = "models/chgnet-finetuned"


def trajectories(project: Path) -> list[Path]:
    """Return the GPAW relaxation trajectories of a project (``runs/gpaw-relax-*/relax.traj``)."""
    return sorted((project / "runs").glob("gpaw-relax-*/relax.traj"))


def finetune(
    traj: Annotated[
        list[Path] | None,
        typer.Option("--traj", help="Trajectory files (default: the project's GPAW relaxations)."),
    ] = None,
    project: Annotated[
        Path | None, typer.Option("--project", help="Project folder (default from settings).")
    ] = None,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help=f"Model folder (default: PROJECT/{MODELS_FOLDER})."),
    ] = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Training epochs (default: mlip_models.yaml).")
    ] = None,
    every: Annotated[
        int, typer.Option("--every", min=1, help="Use every n-th frame of each trajectory.")
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Fine-tune CHGNet on DFT frames; pre-relax with it via `arsc run --prerelax-weights`."""
    from workflows.engines.base import get_engine

    get_engine("mlip")  # a missing MLIP extra is a one-line error naming it
    from workflows.engines.finetune import ChgnetFinetune, read_frames

    settings = get_settings(project=project)
    files = list(traj) if traj else trajectories(settings.project)
    if not files:
        raise ArscInputError(
            f"no GPAW relaxation trajectories under {settings.project / 'runs'}; "
            "run `arsc run SITE_IDS...` first or give --traj"
        )
    frames = read_frames(files, every=every)
    tuner = ChgnetFinetune() if epochs is None else ChgnetFinetune(epochs=epochs)
    out_dir = output or settings.project / MODELS_FOLDER
    if not as_json:
        console().print(
            f"fine-tuning CHGNet on {len(frames)} frames of {len(files)} trajectories "
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
