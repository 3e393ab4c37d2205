"""The potential learns from the campaign: weights records and refits between rounds.

Every DFT relaxation frame and single point a project computes is training
data for the MLIP: DFT energies and forces at the geometries where the
MLIP went wrong. :func:`tune_between_rounds` is what a campaign calls
between two rounds under a tuned protocol (``sp-tuned``,
:mod:`workflows.protocols`): it refits CHGNet on every DFT frame of the
project's DAC sites (``arsc finetune``'s frames,
:class:`workflows.engines.finetune.ChgnetFinetune`) and returns the weights
the next round relaxes with (``FlowOptions.prerelax_weights``). The weights
folder is named by the frames' content, so a rerun with the same frames
reuses the model instead of refitting it.

:func:`weights_record` names the weights that produce a geometry -- the
file and its full SHA-256, the packaged CHGNet weights included -- and is
recorded in the metadata of every job of a flow
(:meth:`workflows.flows.DacAdsorptionFlow.make`); it is also the check that
the packaged weights are installed at all (a one-line error instead of
CHGNet's traceback deep inside the first MLIP job).

Examples
--------
>>> record = weights_record("chgnet")  # doctest: +SKIP
>>> record.file, record.sha256[:8]  # doctest: +SKIP
('.../chgnet/pretrained/0.3.0/chgnet_0.3.0_e29f68s314m37.pth.tar', '...')
>>> tuned = tune_between_rounds(Path("campaign"))  # doctest: +SKIP
>>> FlowOptions(protocol="sp-tuned", prerelax_weights=tuned.weights_file)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import importlib.util
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from arsc.errors import ArscInputError
from arsc.outputs import write_text_atomic
from workflows.engines.base import load_data
from workflows.fingerprint import file_sha256

#: Folder (under the project) of the models tuned between rounds, one subfolder per frame set.
TUNED_FOLDER = "models/tuned"
#: Record of one tuning inside its folder.
TUNING_RECORD = "tuning.json"
#: Fewest frames a refit uses (as :class:`workflows.engines.finetune.ChgnetFinetune` needs).
MIN_FRAMES = 4


class WeightsRecord(BaseModel):
    """Which MLIP weights produced a geometry."""

    model: str = Field(description="MLIP model name of workflows/data/mlip_models.yaml")
    weights: str = Field(description="Packaged weights version, or 'fine-tuned'")
    file: str | None = Field(
        default=None, description="Weights file (absolute path); None if unknown"
    )
    sha256: str | None = Field(default=None, description="SHA-256 of the weights file (hex)")


def _chgnet_weights(package: Path, weights: str) -> Path | None:
    found = sorted((package / "pretrained" / weights).glob("*.pth.tar"))
    return found[0] if found else None


#: Model -> finder of its packaged weights file in the package folder (models without one
#: are recorded by name only).
PACKAGED_WEIGHTS: dict[str, Callable[[Path, str], Path | None]] = {"chgnet": _chgnet_weights}


@cache
def _sha256(path: str, mtime_ns: int) -> str:
    return file_sha256(path, "MLIP weights file")


def _digest(path: Path) -> str:
    try:
        stamp = path.stat().st_mtime_ns
    except OSError:
        raise ArscInputError(f"MLIP weights file {path} not found") from None
    return _sha256(str(path), stamp)


def weights_record(model: str, weights_file: str | None = None) -> WeightsRecord:
    """Return the record of a model's weights: the tuned file, or the packaged one.

    Parameters
    ----------
    model
        A model of ``workflows/data/mlip_models.yaml`` (``chgnet``, ``sevenn``).
    weights_file
        Fine-tuned weights (``arsc finetune``, :func:`tune_between_rounds`).

    Raises
    ------
    ArscInputError
        Unknown model; its package is not installed; the tuned file is
        missing; or the packaged weights file is not installed (one line
        saying how to reinstall).
    """
    table = load_data("mlip_models.yaml")["models"]
    if model not in table:
        raise ArscInputError(f"unknown MLIP model {model!r}; allowed: {', '.join(table)}")
    entry = table[model]
    if weights_file is not None:
        path = Path(weights_file).absolute()
        return WeightsRecord(
            model=model, weights="fine-tuned", file=str(path), sha256=_digest(path)
        )
    spec = importlib.util.find_spec(str(entry["package"]))
    if spec is None or not spec.submodule_search_locations:
        raise ArscInputError(
            f"MLIP model {model!r} needs the package {entry['package']}; "
            f"install it: pip install '{entry['pip']}'"
        )
    weights = str(entry["weights"])
    finder = PACKAGED_WEIGHTS.get(model)
    if finder is None:
        return WeightsRecord(model=model, weights=weights, file=None, sha256=None)
    package = Path(next(iter(spec.submodule_search_locations)))
    found = finder(package, weights)
    if found is None:
        raise ArscInputError(
            f"MLIP model {model!r}: weights {weights} are not installed (no weights file in "
            f"{package / 'pretrained' / weights}); reinstall: pip install --force-reinstall "
            f"'{entry['pip']}'"
        )
    return WeightsRecord(model=model, weights=weights, file=str(found), sha256=_digest(found))


class TunedWeights(BaseModel):
    """A model tuned on a project's frames, and what it was tuned on."""

    weights_file: str = Field(description="Tuned CHGNet weights (absolute path)")
    sha256: str = Field(description="SHA-256 of the weights file (hex)")
    frames: int = Field(description="DFT frames of DAC sites used, count")
    trajectories: list[str] = Field(description="Frame files read (relaxations, single points)")
    frames_digest: str = Field(description="SHA-256 over the frame files' contents (hex)")
    force_mae_before: float = Field(description="Held-out force MAE of the base model, eV/A")
    force_mae_after: float = Field(description="Held-out force MAE of the tuned model, eV/A")
    reused: bool = Field(
        default=False, description="Found tuned already (same frames): nothing refitted"
    )


def frames_digest(files: Sequence[Path]) -> str:
    """Return one SHA-256 over the names' order and the contents of frame files."""
    digest = hashlib.sha256()
    for path in sorted(files, key=str):
        digest.update(file_sha256(path, "trajectory").encode())
    return digest.hexdigest()


def tune_on_frames(
    files: Sequence[Path],
    out_root: Path,
    tuner: Any | None = None,
    min_frames: int = MIN_FRAMES,
) -> TunedWeights | None:
    """Refit CHGNet on the DAC-site frames of ``files``, or reuse the model of the same frames.

    Parameters
    ----------
    files
        Trajectory files (GPAW ``relax.traj`` and ``static.traj``).
    out_root
        Folder of tuned models; the model goes to ``out_root/chgnet-<digest>/``.
    tuner
        A :class:`workflows.engines.finetune.ChgnetFinetune` (default: its defaults).
    min_frames
        Fewer DAC-site frames than this: no refit (None is returned).

    Returns
    -------
    TunedWeights or None
        The model, or None when there are too few frames.
    """
    from workflows.cli.finetune import site_frames
    from workflows.engines.finetune import WEIGHTS_NAME, ChgnetFinetune, read_frames

    if not files:
        return None
    digest = frames_digest(files)
    folder = Path(out_root) / f"chgnet-{digest[:16]}"
    record = folder / TUNING_RECORD
    weights_here = (folder / WEIGHTS_NAME).absolute()
    if record.is_file() and weights_here.is_file():
        done = TunedWeights.model_validate_json(record.read_text())
        if file_sha256(weights_here, "tuned weights") == done.sha256:
            # the weights where they are now: a project moved or cloned elsewhere keeps its model
            return done.model_copy(update={"reused": True, "weights_file": str(weights_here)})
    frames = site_frames(read_frames(files))
    if len(frames) < max(min_frames, MIN_FRAMES):
        return None
    result = (tuner or ChgnetFinetune()).run(frames, folder)
    weights = Path(result.weights_file).absolute()
    tuned = TunedWeights(
        weights_file=str(weights),
        sha256=file_sha256(weights, "tuned weights"),
        frames=len(frames),
        trajectories=[str(f) for f in sorted(files, key=str)],
        frames_digest=digest,
        force_mae_before=result.force_mae_before,
        force_mae_after=result.force_mae_after,
        reused=False,
    )
    write_text_atomic(record, tuned.model_dump_json(indent=2))
    return tuned


def tune_between_rounds(
    project: Path, tuner: Any | None = None, min_frames: int = MIN_FRAMES
) -> TunedWeights | None:
    """Refit CHGNet on every DFT frame of a project's DAC sites; the next round relaxes with it.

    The frames are those of ``arsc finetune`` (``PROJECT/runs``: GPAW
    relaxation trajectories and single-point frames; gas molecules left
    out). Call it between two rounds of a campaign under a tuned protocol and
    pass ``weights_file`` on as the flow's ``prerelax_weights``
    (:meth:`workflows.campaign.definition.DftSpec.flow_options`).

    Returns
    -------
    TunedWeights or None
        The tuned model (``reused`` when the frames have not changed since the
        last call), or None when the project has fewer than ``min_frames``
        frames yet (the round then relaxes with the packaged weights, which
        its documents record).
    """
    from workflows.cli.finetune import trajectories

    return tune_on_frames(
        trajectories(Path(project)), Path(project) / TUNED_FOLDER, tuner, min_frames
    )
