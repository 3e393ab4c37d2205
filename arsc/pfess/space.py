"""PFESS feature engineering: unit-tagged formulas over the properties of two metals.

The candidate features are built in four levels, as in the authors' code
(github linxy685/PFESS, ``feature.py``):

1. *unary*: every primary property ``p`` of metal x and y, ``sqrt(abs(p))``
   and ``p**2`` (same unit tag as ``p``);
2. *within*: for two unary features of one unit tag: ``a + b``,
   ``abs(a - b)``, ``a * b``, ``a / b`` and ``b / a``;
3. *cross*: for two unary features of different tags: ``a * b``, ``a / b``,
   ``b / a``;
4. *products*: ``W * C``, ``W / C`` and ``C / W`` for ``W`` in unary+within and
   ``C`` in unary+cross, where the space's combination rule allows the pair
   (see ``arsc/data/pfess_spaces.yaml``).

Every feature is a formula string in the grammar of :mod:`arsc.features`,
parenthesised exactly as it is computed, so
``arsc.features.evaluate(formula, xs, ys, table)`` returns the same column
bit for bit. Product features are never held all at once: they are made in
blocks of columns (:func:`generate_features`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files
from itertools import combinations
from typing import Any, Literal

import numpy as np
import pandas as pd
import pydantic
import yaml

from arsc.errors import unknown

Rule = Callable[[str, frozenset[str], dict[str, int]], bool]


def _disjoint(unit: str, units: frozenset[str], tags: dict[str, int]) -> bool:
    return unit not in units


def _authors(unit: str, units: frozenset[str], tags: dict[str, int]) -> bool:
    return tags[unit] != min(tags[u] for u in units)


#: Which (within-unit feature, cross feature) pairs form products and ratios.
RULES: dict[str, Rule] = {"disjoint": _disjoint, "authors": _authors}

#: Largest block of feature values made at once, bytes (caps ``block_size``
#: for long tables).
MAX_BLOCK_BYTES = 16 * 1024**2

#: Binary operations: numpy function and formula template.
_OPS: dict[str, tuple[Callable[[Any, Any], Any], str]] = {
    "+": (np.add, "{a} + {b}"),
    "|-|": (lambda a, b: np.abs(a - b), "abs({a} - {b})"),
    "*": (np.multiply, "{a} * {b}"),
    "/": (np.divide, "{a} / {b}"),
}


class FeatureSpace(pydantic.BaseModel):
    """A named PFESS feature space (read from ``arsc/data/pfess_spaces.yaml``)."""

    model_config = pydantic.ConfigDict(frozen=True, extra="forbid")

    name: str = pydantic.Field(description="Preset name.")
    description: str = pydantic.Field(description="What the space holds.")
    properties: tuple[str, ...] = pydantic.Field(
        description="Primary properties of both metals (columns of the element table)."
    )
    rule: Literal["disjoint", "authors"] = pydantic.Field(
        description="Which within-unit/cross-unit pairs form products and ratios."
    )
    drop_zero_entries: bool = pydantic.Field(
        description="Also drop columns with any zero entry (the authors' cleaning)."
    )
    dedup_bits: int = pydantic.Field(
        ge=1,
        le=53,
        description="Mantissa bits two columns must share to count as duplicates "
        "(53: exactly equal floats).",
    )
    source: str = pydantic.Field(description="Where the definition comes from.")


@cache
def _spaces_file() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(
        files("arsc.data").joinpath("pfess_spaces.yaml").read_text()
    )
    return data


def unit_tags() -> dict[str, int]:
    """Return the unit tag of every primary property (the authors' integers)."""
    return {p: int(v["tag"]) for p, v in _spaces_file()["unit_tags"].items()}


def space_names() -> tuple[str, ...]:
    """Names of the shipped feature spaces."""
    return tuple(_spaces_file()["spaces"])


def load_space(name: str = "full") -> FeatureSpace:
    """Load a feature-space preset by name.

    Raises
    ------
    ArscInputError
        If the name is not a shipped preset.
    """
    spaces = _spaces_file()["spaces"]
    if name not in spaces:
        raise unknown("PFESS feature space", name, spaces)
    return FeatureSpace(name=name, **spaces[name])


@dataclass
class _Base:
    """Unary, within and cross features: small enough to keep (rows x ~2k)."""

    formulas: list[str] = field(default_factory=list)
    atomic: list[bool] = field(default_factory=list)
    units: list[frozenset[str]] = field(default_factory=list)
    columns: list[np.ndarray] = field(default_factory=list)

    def add(self, formula: str, atomic: bool, units: frozenset[str], col: np.ndarray) -> int:
        self.formulas.append(formula)
        self.atomic.append(atomic)
        self.units.append(units)
        self.columns.append(col)
        return len(self.formulas) - 1

    def operand(self, i: int) -> str:
        return self.formulas[i] if self.atomic[i] else f"({self.formulas[i]})"

    def combine(self, op: str, i: int, j: int) -> int:
        func, template = _OPS[op]
        text = template.format(a=self.formulas[i], b=self.formulas[j])
        return self.add(
            text, op == "|-|", self.units[i] | self.units[j], func(self.columns[i], self.columns[j])
        )


def _unary(
    base: _Base, table: pd.DataFrame, xs: list[str], ys: list[str], props: Sequence[str]
) -> list[int]:
    primaries = []
    for p in props:
        column = table[p].astype(float)
        for side, metals in (("x", xs), ("y", ys)):
            col = column.reindex(metals).to_numpy()
            primaries.append(base.add(f"{p}{side}", True, frozenset([p]), col))
    out = list(primaries)
    out += [
        base.add(
            f"sqrt(abs({base.formulas[i]}))", True, base.units[i], np.sqrt(np.abs(base.columns[i]))
        )
        for i in primaries
    ]
    out += [
        base.add(f"{base.formulas[i]}**2", True, base.units[i], base.columns[i] ** 2)
        for i in primaries
    ]
    return out


def _pairs_with(base: _Base, pairs: list[tuple[int, int]], ops: Sequence[str]) -> list[int]:
    out = []
    for op in ops:
        out += [base.combine(op, i, j) for i, j in pairs]
        if op == "/":
            out += [base.combine(op, j, i) for i, j in pairs]
    return out


class FeatureGenerator:
    """All candidate features of one feature space for given metal pairs.

    Parameters
    ----------
    table
        Element table indexed by symbol (:func:`arsc.elements.load_elements`).
    metals_x, metals_y
        Binding metal and partner of every row.
    space
        Feature space (:func:`load_space`).
    block_size
        Columns per block of :meth:`blocks` (fewer if a block would exceed
        :data:`MAX_BLOCK_BYTES`).

    Notes
    -----
    Memory: the unary, within and cross features (``n_base`` columns, 2,106
    for the full space) are kept, ``8 * rows * n_base`` bytes; products are
    made one block at a time, ``8 * rows * block_size`` bytes plus
    temporaries.
    """

    def __init__(
        self,
        table: pd.DataFrame,
        metals_x: Sequence[str],
        metals_y: Sequence[str],
        space: FeatureSpace,
        block_size: int = 10_000,
    ) -> None:
        self.space = space
        self.block_size = max(
            1, min(int(block_size), MAX_BLOCK_BYTES // (8 * max(len(metals_x), 1)))
        )
        self.n_rows = len(metals_x)
        base = _Base()
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            unary = _unary(base, table, list(metals_x), list(metals_y), space.properties)
            within = _pairs_with(
                base,
                [(i, j) for i, j in combinations(unary, 2) if base.units[i] == base.units[j]],
                ("+", "|-|", "*", "/"),
            )
            cross = _pairs_with(
                base,
                [(i, j) for i, j in combinations(unary, 2) if base.units[i] != base.units[j]],
                ("*", "/"),
            )
        self._base = base
        self._values = np.column_stack(base.columns) if base.columns else np.empty((0, 0))
        self.n_base = len(base.formulas)
        self._setup_products(unary + within, unary + cross)

    def _setup_products(self, w_idx: list[int], c_idx: list[int]) -> None:
        base, tags, rule = self._base, unit_tags(), RULES[self.space.rule]
        units = [next(iter(base.units[w])) for w in w_idx]
        allowed = {
            u: np.array([c for c in c_idx if rule(u, base.units[c], tags)], dtype=np.int64)
            for u in dict.fromkeys(units)
        }
        flat_start = dict(
            zip(allowed, np.cumsum([0] + [len(a) for a in allowed.values()])[:-1], strict=True)
        )
        self._allowed_flat = np.concatenate(list(allowed.values()))
        self._w = np.array(w_idx, dtype=np.int64)
        self._w_flat_start = np.array([flat_start[u] for u in units], dtype=np.int64)
        counts = np.array([len(allowed[u]) for u in units], dtype=np.int64)
        self._w_end = np.cumsum(counts)
        self._w_start = self._w_end - counts
        self.n_per_op = int(counts.sum())
        #: (first global index, length, operation): None = base features;
        #: "*" W*C, "/" W/C, "\\" C/W.
        self._segments: list[tuple[int, int, str | None]] = [(0, self.n_base, None)] + [
            (self.n_base + k * self.n_per_op, self.n_per_op, op)
            for k, op in enumerate(("*", "/", "\\"))
        ]

    @property
    def n_features(self) -> int:
        """Number of candidate features (columns) before cleaning."""
        return self.n_base + 3 * self.n_per_op

    def _decode(self, local: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Map product positions within one operation to base indices (w, c)."""
        k = np.searchsorted(self._w_end, local, side="right")
        c = self._allowed_flat[self._w_flat_start[k] + local - self._w_start[k]]
        return self._w[k], c

    def _segment_values(self, op: str | None, local: np.ndarray) -> np.ndarray:
        if op is None:
            return self._values[:, local]
        w, c = self._decode(local)
        a, b = self._values[:, w], self._values[:, c]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if op == "*":
                return a * b
            return a / b if op == "/" else b / a

    def _segment_formulas(self, op: str | None, local: np.ndarray) -> list[str]:
        if op is None:
            return [self._base.formulas[i] for i in local]
        w, c = self._decode(local)
        left, right = (w, c) if op != "\\" else (c, w)
        sym = "*" if op == "*" else "/"
        opnd = self._base.operand
        return [f"{opnd(a)} {sym} {opnd(b)}" for a, b in zip(left, right, strict=True)]

    def _split(self, indices: np.ndarray) -> Iterator[tuple[np.ndarray, str | None, np.ndarray]]:
        for start, length, op in self._segments:
            mask = (indices >= start) & (indices < start + length)
            if mask.any():
                yield mask, op, indices[mask] - start

    def values(self, indices: Sequence[int] | np.ndarray) -> np.ndarray:
        """Columns of the given global feature indices, shape (rows, len(indices))."""
        idx = np.asarray(indices, dtype=np.int64)
        out = np.empty((self.n_rows, len(idx)))
        for mask, op, local in self._split(idx):
            out[:, mask] = self._segment_values(op, local)
        return out

    def formulas(self, indices: Sequence[int] | np.ndarray) -> list[str]:
        """Return the formula strings of the given global feature indices."""
        idx = np.asarray(indices, dtype=np.int64)
        out = [""] * len(idx)
        for mask, op, local in self._split(idx):
            for pos, text in zip(
                np.flatnonzero(mask), self._segment_formulas(op, local), strict=True
            ):
                out[pos] = text
        return out

    def blocks(self) -> Iterator[FeatureBlock]:
        """Yield every candidate feature once, in blocks of ``block_size`` columns."""
        for start, length, op in self._segments:
            for lo in range(0, length, self.block_size):
                local = np.arange(lo, min(lo + self.block_size, length))
                yield FeatureBlock(start + lo, self._segment_values(op, local), self)


@dataclass(frozen=True)
class FeatureBlock:
    """A block of candidate features: consecutive global indices from ``start``."""

    start: int
    values: np.ndarray
    generator: FeatureGenerator = field(repr=False)

    @property
    def indices(self) -> np.ndarray:
        """Global feature indices of the columns."""
        return np.arange(self.start, self.start + self.values.shape[1])

    @property
    def formulas(self) -> list[str]:
        """Formula of every column (built on request)."""
        return self.generator.formulas(self.indices)


def generate_features(
    table: pd.DataFrame,
    metals_x: Sequence[str],
    metals_y: Sequence[str],
    space: str | FeatureSpace = "full",
    block_size: int = 10_000,
) -> Iterator[FeatureBlock]:
    """Stream every candidate feature of a space in blocks.

    Parameters
    ----------
    table
        Element table indexed by symbol.
    metals_x, metals_y
        Binding metal and partner, one per row.
    space
        Preset name or :class:`FeatureSpace`.
    block_size
        Columns per block.

    Yields
    ------
    FeatureBlock
        ``values`` (rows x columns, float64; inf/NaN where a division fails)
        and ``formulas`` (readable strings for :func:`arsc.features.evaluate`).

    Examples
    --------
    >>> from arsc.elements import load_elements
    >>> blocks = generate_features(load_elements("authors"), ["Fe"], ["Co"], "authors")
    >>> first = next(blocks)
    >>> first.formulas[:3]
    ['nx', 'ny', 'Sx']
    """
    spc = load_space(space) if isinstance(space, str) else space
    yield from FeatureGenerator(table, metals_x, metals_y, spc, block_size).blocks()
