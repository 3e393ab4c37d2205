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

Unit tags
---------
Each primary property is its own unit tag (``arsc/data/pfess_spaces.yaml``):
n, S and d are dimensionless counts of different things (group, period, d
electrons), as in the authors' code; IE is in eV; X, the Pauling
electronegativity, is dimensionless but a quantity of its own; R is in
Angstrom. Sums and differences are only formed within one tag.

Feature counts on the 56 demo pairs
-----------------------------------
``authors`` space (n, S, R; the authors' tag rule, any-zero drop, exact
duplicates): 166,779 generated, 163,641 after the any-zero drop, 156,788
after inf/NaN/duplicates. The authors' feature.py reports 163,659 and
156,788: the same columns, except that it lists the 18 unary columns twice
(in both second-level sets) before deduplicating. ``full`` space (n, S, d,
IE, X, R; disjoint rule; duplicates to 40 mantissa bits): 1,620,486
generated, 1,604,946 finite, 894,301 after merging duplicates (algebraically
equal formulas evaluated in a different order are merged; with exact
comparison the ``authors`` space would keep 156,788 and with 40 bits 74,973).

Selection
---------
``fast`` (default): 1-D is exhaustive (closed-form R^2 of every clean
column, streamed); k-D (k = 2, 3) ranks every k-subset of a SIS pool (top
``sis`` by |corr| with the target, plus ``sis`` per dimension by |corr| with
the residual of the best (k-1)-D fit) together with the best ``beam``
(k-1)-D sets each extended by every clean feature (exact in closed form).
``authors``: random-forest importance screen then LassoCV over k-subsets.
Every descriptor is refitted and reported with training R^2 and RMSE and a
grouped cross-validated RMSE (the coefficients are refitted per fold; the
feature selection is not repeated per fold, so the CV RMSE is optimistic
about the search itself).

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
