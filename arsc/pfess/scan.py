"""Streaming passes over the candidate features: cleaning, 1-D scores, SIS screening.

One pass over :meth:`FeatureGenerator.blocks` costs ``8 * rows * block_size``
bytes at a time plus 17 bytes per candidate (key, score, flag), so the
feature matrix is never held whole.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from arsc.pfess.space import FeatureGenerator

#: A column is constant when max - min <= CONSTANT_RTOL * max(|value|).
CONSTANT_RTOL = 1e-10

_MIX = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class Scan:
    """Outcome of the cleaning pass over every candidate feature.

    Attributes
    ----------
    counts
        Columns left after each cleaning step, in order: ``generated``,
        ``finite`` (no inf/NaN), ``nonzero`` (not all zero), ``nonconstant``,
        optionally ``no_zero_entries``, and ``unique`` (duplicates dropped,
        first occurrence kept).
    keep
        Per candidate: True if it survives cleaning.
    r2
        Per candidate: R^2 of the least-squares line target ~ 1 + feature
        (NaN where not kept).
    """

    counts: dict[str, int]
    keep: np.ndarray
    r2: np.ndarray = field(repr=False)

    @property
    def n_clean(self) -> int:
        """Number of features left after cleaning."""
        return int(self.keep.sum())


def column_keys(values: np.ndarray, bits: int) -> np.ndarray:
    """Hash every column to 64 bits after rounding each value to ``bits`` mantissa bits.

    With ``bits=53`` only exactly equal floats share a key; with 40 (about 12
    significant digits) algebraically equal formulas evaluated in a different
    order do too.
    """
    mant, expo = np.frexp(values)
    k = np.rint(mant * float(2**bits)).astype(np.int64).view(np.uint64)
    e = expo.astype(np.int64).view(np.uint64)
    rng = np.random.default_rng(12345)
    weights = np.asarray(rng.integers(1, 2**63, size=values.shape[0]), dtype=np.uint64)
    with np.errstate(over="ignore"):
        k = k ^ (e * _MIX)
        k ^= k >> np.uint64(31)
        k *= _MIX
        k ^= k >> np.uint64(29)
        return np.asarray((k * (weights | np.uint64(1))[:, None]).sum(axis=0, dtype=np.uint64))


def column_checks(values: np.ndarray, drop_zero_entries: bool = False) -> dict[str, np.ndarray]:
    """Cumulative cleaning masks of a block, one per step of :attr:`Scan.counts`."""
    finite = np.isfinite(values).all(axis=0)
    safe = np.where(finite, values, 0.0)
    amax = np.abs(safe).max(axis=0, initial=0.0)
    nonzero = finite & (amax > 0)
    ptp = safe.max(axis=0, initial=-np.inf) - safe.min(axis=0, initial=np.inf)
    steps = {
        "finite": finite,
        "nonzero": nonzero,
        "nonconstant": nonzero & (ptp > CONSTANT_RTOL * amax),
    }
    if drop_zero_entries:
        steps["no_zero_entries"] = steps["nonconstant"] & (safe != 0).all(axis=0)
    return steps


def correlation_squared(values: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Squared Pearson correlation of every column with ``target`` (= 1-D OLS R^2)."""
    yc = target - target.mean()
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        fc = values - values.mean(axis=0)
        ss = np.einsum("ij,ij->j", fc, fc)
        cov = yc @ fc
        return np.asarray(cov**2 / (ss * (yc @ yc)))


def scan_features(gen: FeatureGenerator, target: np.ndarray, dedup_bits: int | None = None) -> Scan:
    """Clean every candidate and score it by its 1-D least-squares R^2, in one pass.

    Parameters
    ----------
    gen
        The feature generator.
    target
        Target values, one per row.
    dedup_bits
        Mantissa bits compared when dropping duplicate columns (default: the
        feature space's ``dedup_bits``).

    Returns
    -------
    Scan
        Counts after each cleaning step, the keep mask and the 1-D R^2.
    """
    bits = gen.space.dedup_bits if dedup_bits is None else dedup_bits
    n = gen.n_features
    r2 = np.full(n, np.nan)
    keys = np.zeros(n, dtype=np.uint64)
    counts = {"generated": n}
    valid = np.zeros(n, dtype=bool)
    for block in gen.blocks():
        sl = slice(block.start, block.start + block.values.shape[1])
        steps = column_checks(block.values, gen.space.drop_zero_entries)
        for name, mask in steps.items():
            counts[name] = counts.get(name, 0) + int(mask.sum())
        ok = list(steps.values())[-1]
        valid[sl] = ok
        cols = block.values[:, ok]
        keys[sl][ok] = column_keys(cols, bits)
        r2[sl][ok] = correlation_squared(cols, target)
    keep = np.zeros(n, dtype=bool)
    candidates = np.flatnonzero(valid)
    _, first = np.unique(keys[candidates], return_index=True)
    keep[candidates[first]] = True
    counts["unique"] = int(keep.sum())
    r2[~keep] = np.nan
    return Scan(counts=counts, keep=keep, r2=r2)


def top_indices(scores: np.ndarray, k: int) -> np.ndarray:
    """Return the indices of the ``k`` largest finite scores, best first.

    Scores equal to 12 decimals count as ties and keep index order, so of two
    algebraically equal features the simpler (earlier) one comes first.
    """
    finite = np.flatnonzero(np.isfinite(scores))
    if len(finite) > k:
        part = np.argpartition(-scores[finite], k - 1)[:k]
        cutoff = scores[finite[part]].min()
        finite = finite[scores[finite] >= cutoff]
    order = np.lexsort((finite, -np.round(scores[finite], 12)))
    return np.asarray(finite[order][:k])


def screen(gen: FeatureGenerator, keep: np.ndarray, residual: np.ndarray, k: int) -> np.ndarray:
    """SIS: the ``k`` kept features most correlated (in absolute value) with ``residual``."""
    score = np.full(gen.n_features, np.nan)
    for block in gen.blocks():
        sl = slice(block.start, block.start + block.values.shape[1])
        ok = keep[sl]
        score[sl][ok] = correlation_squared(block.values[:, ok], residual)
    return top_indices(score, k)


def _residual_basis(x: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Orthonormal basis of the centred columns of ``x`` and the target's residual."""
    q, _ = np.linalg.qr(x - x.mean(axis=0))
    yc = target - target.mean()
    return q.T, yc - q @ (q.T @ yc)


def extend_sets(
    gen: FeatureGenerator,
    keep: np.ndarray,
    target: np.ndarray,
    bases: list[tuple[int, ...]],
    top: int,
) -> list[tuple[tuple[int, ...], float]]:
    """Best one-feature extensions of given feature sets, over every kept feature.

    For each base set S and every kept feature g (streamed), the residual sum
    of squares of target ~ 1 + S + g follows in closed form from the residual
    of S and the part of g orthogonal to S, so all ``len(bases) * n_clean``
    extended sets are ranked exactly in one pass.

    Returns
    -------
    list of (tuple of int, float)
        The ``top`` best extended sets (sorted global indices) and their
        residual sums of squares, best first.
    """
    if not bases:
        return []
    parts = [_residual_basis(gen.values(list(b)), target) for b in bases]
    q = np.concatenate([p[0] for p in parts])  # (K * d) x rows
    res = np.array([p[1] for p in parts])  # K x rows
    rss0 = np.einsum("ij,ij->i", res, res)
    k, d = len(bases), len(bases[0])
    best: dict[tuple[int, ...], float] = {}
    worst = np.inf
    for block in gen.blocks():
        sl = slice(block.start, block.start + block.values.shape[1])
        ok = keep[sl]
        if not ok.any():
            continue
        gc = block.values[:, ok]
        gc = gc - gc.mean(axis=0)
        gg = np.einsum("ij,ij->j", gc, gc)
        proj = q @ gc
        proj *= proj
        den = gg - proj.reshape(k, d, -1).sum(axis=1)
        fine = den > 1e-8 * gg
        gain = res @ gc
        gain *= gain
        np.divide(gain, den, out=gain, where=fine)
        gain[~fine] = -np.inf
        rss = np.subtract(rss0[:, None], gain, out=gain)
        flat = rss.ravel()
        cand = np.flatnonzero(flat < worst)
        if len(cand) > 4 * top:
            cand = cand[np.argpartition(flat[cand], 4 * top)[: 4 * top]]
        idx = block.indices[ok]
        for f in cand:
            row, col = divmod(int(f), rss.shape[1])
            key = tuple(sorted((*bases[row], int(idx[col]))))
            best[key] = min(best.get(key, np.inf), float(flat[f]))
        if len(best) >= top:
            best = dict(sorted(best.items(), key=lambda item: item[1])[:top])
            worst = max(best.values())
    return sorted(best.items(), key=lambda item: item[1])
