"""PFESS: physically meaningful feature engineering, then selection and sparsification.

Reimplements the descriptor search of Lin et al., Nat. Commun. 15 (2024)
(their code: github linxy685/PFESS, Apache-2.0) for tables of metal pairs:

- :mod:`arsc.pfess.space` builds unit-tagged candidate features of the binding
  metal x and its partner y as readable formulas (``abs(Rx - Rx**2) * (Sx /
  nx**2)``), streamed in blocks;
- :mod:`arsc.pfess.scan` drops inf/NaN, all-zero, constant and duplicate
  columns and scores every column by its 1-D least-squares R^2 in one pass;
- :mod:`arsc.pfess.fit` fits least squares, searches small feature sets
  exhaustively (l0) and cross-validates by groups of rows;
- :mod:`arsc.pfess.authors` is the authors' random-forest screen followed by
  LassoCV over k-subsets;
- :func:`run_pfess` ties them together.

Reconstruction, not the paper: the ``full`` feature space (all six primary
properties; the authors' demo uses n, S and R only), the "disjoint" unit rule
for products, the fast exhaustive/SIS selection, and the grouped
cross-validation (the authors report training errors only).

Examples
--------
>>> import pandas as pd
>>> from arsc.pfess import run_pfess
>>> data = pd.read_csv("tests/data/pfess-demo/pairs.csv")  # doctest: +SKIP
>>> best = run_pfess(data, "property", elements="authors").results[0]  # doctest: +SKIP
>>> best.formulas, round(best.r2, 4)  # doctest: +SKIP
(['abs(Rx - Rx**2) * (Sx / nx**2)'], 0.9239)
"""

from arsc.pfess.authors import AuthorsSettings
from arsc.pfess.data import GROUPINGS, PairData, convert_workbook, prepare, read_table
from arsc.pfess.run import MODES, Descriptor, PfessResult, run_pfess
from arsc.pfess.scan import Scan, scan_features
from arsc.pfess.space import (
    FeatureBlock,
    FeatureGenerator,
    FeatureSpace,
    generate_features,
    load_space,
    space_names,
)

__all__ = [
    "GROUPINGS",
    "MODES",
    "AuthorsSettings",
    "Descriptor",
    "FeatureBlock",
    "FeatureGenerator",
    "FeatureSpace",
    "PairData",
    "PfessResult",
    "Scan",
    "convert_workbook",
    "generate_features",
    "load_space",
    "prepare",
    "read_table",
    "run_pfess",
    "scan_features",
    "space_names",
]
