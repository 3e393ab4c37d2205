"""Descriptor formulas over intrinsic element properties, as readable strings.

A formula is a Python-like expression over the primary properties of the
binding metal x and its partner y: ``nx, Sx, dx, IEx, Xx, Rx`` and ``ny, ...,
Ry`` (see :data:`arsc.elements.PRIMARY_PROPERTIES`), numbers, ``+ - * / **``,
``sqrt`` and ``abs``. PFESS writes its descriptors in this form and the ARSC
model reads them, so a descriptor is stored, printed and evaluated as one
string.

Examples
--------
>>> from arsc.features import evaluate
>>> evaluate("abs(Rx - Rx**2) * Sx / nx**2", ["Fe"], ["Co"], "authors").round(4)
array([0.0546])
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from functools import cache
from types import CodeType

import numpy as np
import pandas as pd

from arsc.elements import PRIMARY_PROPERTIES, check_metals, load_elements
from arsc.errors import ArscInputError

_FUNCTIONS = {"sqrt": np.sqrt, "abs": np.abs}
_ALLOWED = (
    ast.Expression,
    ast.BinOp,
    ast.UnaryOp,
    ast.Call,
    ast.Name,
    ast.Load,
    ast.Constant,
    ast.Add,
    ast.Sub,
    ast.Mult,
    ast.Div,
    ast.Pow,
    ast.USub,
    ast.UAdd,
)


def variables() -> tuple[str, ...]:
    """Names a formula may use: every primary property with suffix x and y."""
    return tuple(f"{p}{s}" for s in "xy" for p in PRIMARY_PROPERTIES)


@cache
def _compile(formula: str) -> tuple[CodeType, frozenset[str]]:
    try:
        tree = ast.parse(formula, mode="eval")
    except SyntaxError as exc:
        raise ArscInputError(f"malformed formula {formula!r}: {exc.msg}") from None
    names: set[str] = set()
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise ArscInputError(
                f"formula {formula!r} uses {type(node).__name__}; allowed: numbers, "
                "+ - * / **, sqrt, abs and the variables " + ", ".join(variables())
            )
        if isinstance(node, ast.Call) and (
            not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS
        ):
            raise ArscInputError(f"formula {formula!r}: only sqrt() and abs() may be called")
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
            if node.id not in variables():
                raise ArscInputError(
                    f"formula {formula!r}: unknown variable {node.id!r}; allowed: "
                    + ", ".join(variables())
                )
            names.add(node.id)
    return compile(tree, "<formula>", "eval"), frozenset(names)


def formula_variables(formula: str) -> frozenset[str]:
    """Variables a formula uses (validates the formula)."""
    return _compile(formula)[1]


def evaluate(
    formula: str,
    metals_x: Sequence[str],
    metals_y: Sequence[str] | None = None,
    elements: str | pd.DataFrame = "default",
) -> np.ndarray:
    """Evaluate a descriptor formula for many (x, y) metal pairs at once.

    Parameters
    ----------
    formula
        Expression as described in the module docstring.
    metals_x
        Binding metals, one per row.
    metals_y
        Partner metals (same length); defaults to ``metals_x`` (homonuclear).
    elements
        Element table name or a table indexed by symbol.

    Returns
    -------
    numpy.ndarray
        One value per row (float64; inf/NaN where the formula divides by zero).
    """
    code, names = _compile(formula)
    table = load_elements(elements) if isinstance(elements, str) else elements
    xs = list(metals_x)
    ys = xs if metals_y is None else list(metals_y)
    if len(xs) != len(ys):
        raise ArscInputError(f"metals_x and metals_y differ in length ({len(xs)} vs {len(ys)})")
    if isinstance(elements, str):
        check_metals(sorted(set(xs + ys)), elements)
    else:
        missing = sorted(set(xs + ys) - set(table.index))
        if missing:
            raise ArscInputError(f"metal {missing[0]!r} is not in the given element table")
    namespace: dict[str, object] = dict(_FUNCTIONS)
    for name in names:
        prop, side = name[:-1], name[-1]
        column = table[prop].astype(float)
        namespace[name] = column.reindex(xs if side == "x" else ys).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        value = eval(code, {"__builtins__": {}}, namespace)
    return np.broadcast_to(np.asarray(value, dtype=float), (len(xs),)).copy()
