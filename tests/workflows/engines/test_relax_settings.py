"""One declaration of the relax knobs (RelaxSettings) for the GPAW and MLIP relax Makers.

Real Makers, no calculation is run: the knobs, their defaults from the data
files, their checks, and that the settings (hence the fingerprints of cached
results) are those the Makers recorded before the knobs were shared.
"""

from __future__ import annotations

import dataclasses
import inspect

import pytest
from ase.build import molecule

from arsc.errors import ArscInputError
from workflows.engines.base import load_data
from workflows.engines.gpaw import PRESETS_FILE, GpawRelaxMaker, GpawStaticMaker
from workflows.engines.relax import ENGINE_DEFAULT, RelaxSettings
from workflows.fingerprint import calc_fingerprint

KNOBS = ("fmax", "steps", "optimizer", "maxstep")


def _makers() -> list[tuple[type[RelaxSettings], str]]:
    """The relax Makers and the data file of their defaults (MLIP only with its extra)."""
    found: list[tuple[type[RelaxSettings], str]] = [(GpawRelaxMaker, PRESETS_FILE)]
    try:
        from workflows.engines.mlip import MODELS_FILE, MlipRelaxMaker
    except ImportError:  # the MLIP extra is not installed: GPAW only
        return found
    return [*found, (MlipRelaxMaker, MODELS_FILE)]


MAKERS = _makers()


def _defaults(data_file: str) -> dict[str, object]:
    section = load_data(data_file)["relax"]
    return {k: section[k] for k in KNOBS}


def _water():
    atoms = molecule("H2O")
    atoms.center(vacuum=4.0)
    return atoms


def test_the_knobs_are_declared_once_and_inherited_as_dataclass_fields() -> None:
    assert [f.name for f in dataclasses.fields(RelaxSettings)] == list(KNOBS)
    for maker, _ in MAKERS:
        assert issubclass(maker, RelaxSettings)
        assert not set(KNOBS) & set(inspect.get_annotations(maker))
        assert set(KNOBS) <= {f.name for f in dataclasses.fields(maker)}


@pytest.mark.parametrize(("maker", "data_file"), MAKERS)
def test_defaults_come_from_the_engines_data_file(maker, data_file) -> None:
    made = maker()
    assert {k: getattr(made, k) for k in KNOBS} == _defaults(data_file)
    assert ENGINE_DEFAULT not in vars(made).values()


@pytest.mark.parametrize(("maker", "data_file"), MAKERS)
def test_given_knobs_win_and_replace_keeps_the_rest(maker, data_file) -> None:
    made = maker(fmax=0.01, steps=7)
    expected = {**_defaults(data_file), "fmax": 0.01, "steps": 7}
    assert {k: getattr(made, k) for k in KNOBS} == expected
    changed = dataclasses.replace(made, optimizer="BFGS")
    assert {k: getattr(changed, k) for k in KNOBS} == {**expected, "optimizer": "BFGS"}
    assert type(made).from_dict(made.as_dict()) == made  # jobflow serialisation round trip


@pytest.mark.parametrize(
    ("knobs", "message"),
    [
        ({"fmax": 0}, "fmax must be > 0 eV/Angstrom (got 0)"),
        ({"fmax": float("nan")}, "fmax must be > 0 eV/Angstrom (got nan)"),
        ({"maxstep": -0.1}, "maxstep must be > 0 Angstrom (got -0.1)"),
        ({"steps": 2.5}, "steps must be a whole number >= 0 (got 2.5)"),
        ({"steps": -1}, "steps must be a whole number >= 0 (got -1)"),
        ({"optimizer": "LBFGS"}, "unknown optimizer 'LBFGS'; allowed: BFGS, FIRE, PreconLBFGS"),
    ],
)
@pytest.mark.parametrize(("maker", "data_file"), MAKERS)
def test_a_bad_knob_is_a_one_line_error_when_the_maker_is_made(
    maker, data_file, knobs, message
) -> None:
    with pytest.raises(ArscInputError) as err:
        maker(**knobs)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_settings_without_an_engine_need_every_knob() -> None:
    assert RelaxSettings(0.05, 10, "FIRE", 0.2).optimizer_params() == {
        "optimizer": "FIRE",
        "maxstep": 0.2,
    }
    with pytest.raises(ArscInputError, match=r"^RelaxSettings: give steps, optimizer, maxstep"):
        RelaxSettings(fmax=0.05)


def test_gpaw_relax_settings_and_fingerprint_are_those_recorded_before() -> None:
    """The settings dict as GpawRelaxMaker wrote it before the knobs were shared."""
    maker = GpawRelaxMaker()
    expected = {**GpawStaticMaker().settings(), **_defaults(PRESETS_FILE)}
    assert maker.settings() == expected
    atoms = _water()
    assert maker.fingerprint(atoms) == calc_fingerprint(atoms, "gpaw", "relax", expected)
    attempt = {**maker.optimizer_params(), "optimizer": "FIRE", "maxstep": 0.1}
    ladder = maker.settings_of({**maker.params().model_dump(), **attempt})
    assert {k: ladder[k] for k in KNOBS} == {**_defaults(PRESETS_FILE), **attempt}


def test_mlip_relax_settings_and_fingerprint_are_those_recorded_before() -> None:
    pytest.importorskip("chgnet", reason="MLIP extra not installed: pip install 'arsc-dac[mlip]'")
    from workflows.engines.mlip import MODELS_FILE, MlipRelaxMaker, MlipStaticMaker

    maker = MlipRelaxMaker()
    expected = {**MlipStaticMaker().settings(), **_defaults(MODELS_FILE)}
    assert maker.settings() == expected
    atoms = _water()
    assert maker.fingerprint(atoms) == calc_fingerprint(atoms, "mlip", "relax", expected)
    only_adsorbate = MlipRelaxMaker(adsorbate_only=True).settings()
    assert only_adsorbate == {**expected, "adsorbate_only": True}
