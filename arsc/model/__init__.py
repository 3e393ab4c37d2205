"""The ARSC descriptor model: fit, predict with uncertainty, phi_opt, model files.

See ``docs/model.md`` for the equations and which parts are the paper's and
which the project's reconstruction. The pieces:

- :mod:`arsc.model.terms`: the A, S, C, R equations and the variants;
- :mod:`arsc.model.solve`: constrained least squares in stages;
- :mod:`arsc.model.fit`: per-intermediate fits, bootstrap, grouped CV, variants;
- :mod:`arsc.model.predict`: vectorised scoring and output layouts;
- :mod:`arsc.model.io`: the versioned model file;
- :mod:`arsc.model.ideal`: ideal dG per reaction (``arsc/data/ideal_dg.yaml``);
- :mod:`arsc.model.table`: input tables;
- :mod:`arsc.model.synthetic`: tables drawn from known parameters.
"""

from arsc.model.fit import compare_variants, fit_model, metrics, prepare
from arsc.model.ideal import default_reaction, ideal_dg, reactions
from arsc.model.io import SCHEMA_VERSION, ArscModel, load_model, save_model
from arsc.model.predict import LAYOUTS, Prediction, Scores, predict, score
from arsc.model.synthetic import SYNTHETIC_PARAMS, make_synthetic_table
from arsc.model.table import data_sha256, read_table
from arsc.model.terms import DEFAULT_FORMULA, DEFAULT_VARIANT, VARIANTS, phi_opt

__all__ = [
    "DEFAULT_FORMULA",
    "DEFAULT_VARIANT",
    "LAYOUTS",
    "SCHEMA_VERSION",
    "SYNTHETIC_PARAMS",
    "VARIANTS",
    "ArscModel",
    "Prediction",
    "Scores",
    "compare_variants",
    "data_sha256",
    "default_reaction",
    "fit_model",
    "ideal_dg",
    "load_model",
    "make_synthetic_table",
    "metrics",
    "phi_opt",
    "predict",
    "prepare",
    "reactions",
    "read_table",
    "save_model",
    "score",
]
