"""d-band moments: exact Gaussian values, invariances (property-based), bad input, VASP files."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize_scalar
from scipy.special import dawsn, ndtr

from arsc.dband import DBandAnalysis, DBandMoments, analyse, from_vasp, moments, read_vasp_dos
from arsc.errors import ArscInputError

DATA = Path(__file__).parents[1] / "data" / "dband"
GRID = np.linspace(-16.0, 12.0, 2801)  # eV, step 0.01
SHAPE = ("width", "skewness", "kurtosis")
ALL = ("filling", "centre", *SHAPE, "upper_edge")
#: The Hilbert transform of a Gaussian N(mu, sigma) is a Dawson function; its maximum lies
#: at mu + sqrt(2) * y0 * sigma, where y0 maximises dawsn.
Y0 = minimize_scalar(lambda y: -dawsn(y), bounds=(0.0, 2.0), method="bounded").x
FAST = settings(max_examples=40, deadline=None)


def gaussian(e, mu, sigma, weight=1.0):
    return weight * np.exp(-0.5 * ((e - mu) / sigma) ** 2) / (sigma * np.sqrt(2 * np.pi))


def close(a: DBandMoments, b: DBandMoments, fields=ALL, tol=1e-8):
    for f in fields:
        x, y = getattr(a, f), getattr(b, f)
        assert (x is None and y is None) or x == pytest.approx(y, rel=tol, abs=tol), f


# --- exact values -------------------------------------------------------------------------------

gauss_params = st.tuples(
    st.floats(-4.0, 1.0),  # mu, eV
    st.floats(0.4, 1.5),  # sigma, eV
    st.floats(-2.0, 2.0),  # Fermi level, eV
)


@FAST
@given(gauss_params)
def test_gaussian_band_has_centre_mu_width_sigma_skew_0_kurtosis_3(params):
    mu, sigma, fermi = params
    m = moments(GRID, gaussian(GRID, mu, sigma), fermi)
    # step 0.01 eV << sigma: the trapezoid rule is exact to round-off for a Gaussian
    assert m.centre == pytest.approx(mu - fermi, abs=1e-9)
    assert m.width == pytest.approx(sigma, rel=1e-9)
    assert m.skewness == pytest.approx(0.0, abs=1e-8)
    assert m.kurtosis == pytest.approx(3.0, abs=1e-8)
    assert m.upper_edge == pytest.approx(mu - fermi + 2 * sigma, abs=1e-9)
    # filling: the Fermi level falls between grid points; linear interpolation there costs O(h^2)
    assert m.filling == pytest.approx(ndtr((fermi - mu) / sigma), abs=1e-4)


@FAST
@given(gauss_params)
def test_gaussian_hilbert_edge_is_dawson_maximum(params):
    mu, sigma, fermi = params
    m = moments(GRID, gaussian(GRID, mu, sigma), fermi)
    assert m.hilbert_edge == pytest.approx(mu - fermi + np.sqrt(2) * Y0 * sigma, abs=1e-3)


@FAST
@given(gauss_params, st.integers(0, 2**32 - 1), st.floats(0.005, 0.05))
def test_gaussian_on_nonuniform_grid_within_trapezoid_error(params, seed, hmax):
    mu, sigma, fermi = params
    steps = np.random.default_rng(seed).uniform(0.1 * hmax, hmax, 20000)  # eV
    e = -16.0 + np.concatenate(([0.0], np.cumsum(steps)))
    e = e[e <= 12.0]
    m = moments(e, gaussian(e, mu, sigma), fermi)
    # trapezoid error on an uneven grid: O(h_max^2 / sigma^2) relative to the scale sigma
    tol = 2.0 * (steps.max() / sigma) ** 2 * sigma
    assert m.centre == pytest.approx(mu - fermi, abs=tol)
    assert m.width == pytest.approx(sigma, abs=tol)
    assert m.skewness == pytest.approx(0.0, abs=tol / sigma)
    assert m.kurtosis == pytest.approx(3.0, abs=10 * tol / sigma)


def test_occupied_half_gaussian_matches_half_normal():
    sigma = 1.2
    a = analyse(GRID, gaussian(GRID, -1.0, sigma), fermi=-1.0)  # E_F at the band centre
    assert a.full.filling == pytest.approx(0.5, abs=1e-9)
    occ = a.occupied
    assert occ.filling == 1.0
    assert occ.hilbert_edge is None
    assert occ.centre == pytest.approx(-sigma * np.sqrt(2 / np.pi), rel=1e-4)
    assert occ.width == pytest.approx(sigma * np.sqrt(1 - 2 / np.pi), rel=1e-4)
    assert occ.upper_edge == pytest.approx(occ.centre + 2 * occ.width)


def test_window_excludes_states_outside_it():
    rho = gaussian(GRID, -2.0, 0.8) + gaussian(GRID, -12.0, 0.5, weight=3.0)
    a = analyse(GRID, rho, fermi=0.0, window=(-7.0, 5.0))
    assert a.window == (-7.0, 5.0)
    assert a.full.centre == pytest.approx(-2.0, abs=1e-6)
    assert a.full.width == pytest.approx(0.8, rel=1e-6)
    default = analyse(GRID, rho, fermi=0.5)
    assert default.window == pytest.approx((GRID[0] - 0.5, GRID[-1] - 0.5))
    assert default.full.centre < -5.0  # the deep bump counts without a window


def test_window_beyond_grid_uses_the_grid_part():
    rho = gaussian(GRID, -2.0, 0.8)
    wide = moments(GRID, rho, 0.0, window=(-100.0, 100.0))
    close(wide, moments(GRID, rho, 0.0), tol=1e-12)


# --- invariances for any non-negative DOS (property-based) -------------------------------------


@st.composite
def any_dos(draw):
    n = draw(st.integers(5, 60))
    steps = draw(st.lists(st.floats(0.01, 1.0), min_size=n - 1, max_size=n - 1))
    start = draw(st.floats(-15.0, 0.0))
    e = start + np.concatenate(([0.0], np.cumsum(steps)))
    rho = np.array(
        draw(st.lists(st.one_of(st.just(0.0), st.floats(1e-3, 10.0)), min_size=n, max_size=n))
    )
    fermi = draw(st.floats(float(e[0]), float(e[-1])))
    # at least two states strictly below E_F, so that the occupied part has a width
    assume(np.count_nonzero(rho[e < fermi]) >= 2)
    return e, rho, fermi


@FAST
@given(any_dos(), st.floats(-5.0, 5.0))
def test_shifting_energies_and_fermi_together_changes_nothing(case, shift):
    e, rho, fermi = case
    a, b = analyse(e, rho, fermi), analyse(e + shift, rho, fermi + shift)
    for x, y in ((a.full, b.full), (a.occupied, b.occupied)):
        close(x, y, tol=1e-7)
    assert b.window == pytest.approx(a.window, abs=1e-9)


@FAST
@given(any_dos(), st.floats(-5.0, 5.0))
def test_shifting_energies_only_shifts_centre_and_edge_keeps_shape(case, shift):
    e, rho, fermi = case
    a, b = moments(e, rho, fermi), moments(e + shift, rho, fermi)
    assert b.centre == pytest.approx(a.centre + shift, abs=1e-8)
    assert b.upper_edge == pytest.approx(a.upper_edge + shift, abs=1e-8)
    close(a, b, SHAPE, tol=1e-7)


@FAST
@given(
    st.floats(-4.0, 0.0),
    st.floats(0.3, 1.5),
    st.floats(0.5, 3.0),
    st.floats(0.0, 4.0),
    st.floats(-5.0, 5.0),
)
def test_shifting_energies_only_shifts_hilbert_edge(mu, sigma, weight2, gap, shift):
    rho = gaussian(GRID, mu, sigma) + gaussian(GRID, mu + gap, 0.7, weight2)
    a, b = moments(GRID, rho, 0.0), moments(GRID + shift, rho, 0.0)
    assert a.hilbert_edge is not None and b.hilbert_edge is not None
    assert b.hilbert_edge == pytest.approx(a.hilbert_edge + shift, abs=1e-6)


@FAST
@given(any_dos(), st.floats(1e-3, 1e3))
def test_scaling_dos_changes_nothing(case, factor):
    e, rho, fermi = case
    a, b = analyse(e, rho, fermi), analyse(e, factor * rho, fermi)
    close(a.full, b.full, (*ALL, "hilbert_edge"), tol=1e-9)
    close(a.occupied, b.occupied, ALL, tol=1e-9)


@FAST
@given(any_dos())
def test_mirror_flips_centre_and_skewness_keeps_width_and_kurtosis(case):
    e, rho, fermi = case
    a = moments(e, rho, fermi)
    b = moments(-e[::-1], rho[::-1], -fermi)
    assert b.centre == pytest.approx(-a.centre, abs=1e-9)
    assert b.skewness == pytest.approx(-a.skewness, rel=1e-7, abs=1e-9)
    close(a, b, ("width", "kurtosis"), tol=1e-9)
    assert b.filling == pytest.approx(1.0 - a.filling, abs=1e-9)


@FAST
@given(any_dos())
def test_two_identical_spins_sum_to_the_single_spin_result(case):
    e, rho, fermi = case
    one = analyse(e, rho, fermi)
    two = analyse(e, np.stack([rho, rho]), fermi)
    assert len(one.spin) == 1 and len(two.spin) == 2
    for variant in ("full", "occupied"):
        close(getattr(one, variant), getattr(two, variant), (*ALL, "hilbert_edge"), tol=1e-12)
    for x in (*two.spin, *one.spin):
        close(x, one.full, (*ALL, "hilbert_edge"), tol=1e-12)
    for x in two.spin_occupied:
        close(x, one.occupied, tol=1e-12)


def test_moments_sums_a_two_spin_array():
    up, down = gaussian(GRID, -2.0, 1.0), gaussian(GRID, -1.0, 1.0)
    close(moments(GRID, np.stack([up, down])), moments(GRID, up + down), tol=1e-12)


# --- bad input ----------------------------------------------------------------------------------

E5 = np.linspace(-2.0, 2.0, 5)
D5 = np.array([0.0, 1.0, 2.0, 1.0, 0.0])


@pytest.mark.parametrize(
    ("energies", "dos", "kwargs", "match"),
    [
        (E5, D5[:4], {}, r"shape \(4,\).*match the energies"),
        (E5, np.ones((3, 5)), {}, r"nspin 1 or 2"),
        (E5, -D5, {}, r"negative values"),
        (E5, np.zeros(5), {}, r"zero weight"),
        (E5, D5, {"window": (5.0, 6.0)}, r"zero weight"),
        (E5, D5, {"window": (1.0, -1.0)}, r"lower < upper"),
        (E5, D5, {"fermi": -3.0, "occupied": True}, r"occupied part has zero weight"),
        (np.array([0.0, np.nan, 1, 2, 3]), D5, {}, r"energies contains non-finite"),
        (E5, np.array([0.0, np.inf, 1, 1, 0]), {}, r"dos contains non-finite"),
        (E5[::-1], D5, {}, r"strictly increasing"),
        (np.array([0.0, 1.0, 1.0, 2.0, 3.0]), D5, {}, r"strictly increasing"),
        (E5, np.array([0.0, 0.0, 1.0, 0.0, 0.0]), {}, r"zero width"),
    ],
)
def test_bad_input_raises_one_line(energies, dos, kwargs, match):
    with pytest.raises(ArscInputError, match=match) as err:
        moments(energies, dos, **kwargs)
    assert "\n" not in str(err.value)


def test_analyse_rejects_bad_pdos_shape():
    with pytest.raises(ArscInputError, match=r"pdos has shape"):
        analyse(E5, np.ones((2, 4)))


# --- VASP files (synthetic, see tests/data/dband/PROVENANCE.md) --------------------------------

EXPECTED = json.loads((DATA / "expected.json").read_text())


def load_generator():
    spec = importlib.util.spec_from_file_location("make_synthetic", DATA / "make_synthetic.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_synthetic_files_equal_what_the_generator_writes():
    for name, text in load_generator().files().items():
        assert (DATA / name).read_text() == text, name


# DOSCAR keeps 4 significant digits (E12.4) and vasprun.xml 4 decimals (F10.4), which is
# what limits the agreement with the exact continuous moments, mostly in the tails.
FILE_TOL = {"DOSCAR": (2e-4, 2e-3), "vasprun.xml": (5e-4, 1e-2)}  # (eV, shape)


@pytest.mark.parametrize("name", ["DOSCAR", "vasprun.xml"])
@pytest.mark.parametrize("atoms", [(0,), (0, 1)])
def test_from_vasp_recovers_synthetic_gaussian_moments(name, atoms):
    a = from_vasp(DATA / name, atoms)
    assert isinstance(a, DBandAnalysis)
    exp = EXPECTED[",".join(map(str, atoms))]
    tol_e, tol_shape = FILE_TOL[name]
    for got, want in ((a.full, exp["full"]), *zip(a.spin, exp["spin"], strict=True)):
        assert got.centre == pytest.approx(want["centre"], abs=tol_e)
        assert got.width == pytest.approx(want["width"], abs=tol_e)
        assert got.skewness == pytest.approx(want["skewness"], abs=tol_shape)
        assert got.kurtosis == pytest.approx(want["kurtosis"], abs=tol_shape)
        # E_F sits on a grid point of the 0.2 eV grid: trapezoid end error O(h^2)
        assert got.filling == pytest.approx(want["filling"], abs=3e-3)
    assert len(a.spin) == 2 and len(a.spin_occupied) == 2


def test_doscar_and_vasprun_agree_and_folder_prefers_vasprun():
    d, v = read_vasp_dos(DATA / "DOSCAR"), read_vasp_dos(DATA / "vasprun.xml")
    assert d.fermi == v.fermi == EXPECTED["fermi_eV"]
    np.testing.assert_allclose(d.energies, v.energies)
    assert d.d.shape == v.d.shape == (2, 2, 91)
    np.testing.assert_allclose(d.d, v.d, atol=3e-4)  # 5 orbitals rounded to 1e-4 each
    folder = read_vasp_dos(DATA)
    np.testing.assert_array_equal(folder.d, v.d)


def test_doscar_ispin1_lorbit10_is_read(tmp_path):
    """A non-spin-polarised, l-resolved DOSCAR written from the synthetic data gives the
    spin-summed band of the ISPIN 2 file."""
    full = read_vasp_dos(DATA / "DOSCAR")
    lines = (DATA / "DOSCAR").read_text().splitlines()
    n = full.energies.size
    head, out = lines[5], lines[:6]
    total = np.array([ln.split() for ln in lines[6 : 6 + n]], dtype=float)
    out += [f"{r[0]:11.3f}{r[1] + r[2]:12.4E}{r[3] + r[4]:12.4E}" for r in total]
    for atom in range(2):
        block = np.array(
            [ln.split() for ln in lines[7 + n + atom * (n + 1) : 7 + n + atom * (n + 1) + n]],
            dtype=float,
        )
        s, p, d = block[:, 1:3].sum(1), block[:, 3:9].sum(1), block[:, 9:19].sum(1)
        out.append(head)
        out += [
            f"{e:11.3f}{a:12.4E}{b:12.4E}{c:12.4E}"
            for e, a, b, c in zip(block[:, 0], s, p, d, strict=True)
        ]
    path = tmp_path / "DOSCAR"
    path.write_text("\n".join(out) + "\n")
    one = from_vasp(path, [0])
    assert len(one.spin) == 1
    close(one.full, from_vasp(DATA / "DOSCAR", [0]).full, ("centre", "width"), tol=1e-3)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


#: name -> (builds the path to read inside tmp_path, atom indices, expected message)
BAD_VASP = {
    "atom index out of range": (lambda p: DATA / "DOSCAR", [2], r"atom indices \[2\].*0\.\.1"),
    "no atoms": (lambda p: DATA / "DOSCAR", [], r"at least one"),
    "missing file": (lambda p: p / "missing.xml", [0], r"does not exist"),
    "empty folder": (lambda p: p, [0], r"neither vasprun.xml nor DOSCAR"),
    "not a DOS file": (lambda p: write(p / "OUTCAR", "x"), [0], r"kind of VASP file"),
    "garbage DOSCAR": (lambda p: write(p / "DOSCAR", "garbage\n"), [0], r"bad header"),
    "DOSCAR without projections": (
        lambda p: write(p / "DOSCAR", "\n".join((DATA / "DOSCAR").read_text().splitlines()[:97])),
        [0],
        r"no projected DOS",
    ),
    "broken vasprun.xml": (
        lambda p: write(p / "vasprun.xml", "<modeling>"),
        [0],
        r"as vasprun.xml",
    ),
}


@pytest.mark.parametrize("case", BAD_VASP)
def test_from_vasp_bad_input_raises_one_line(tmp_path, case):
    make, atoms, match = BAD_VASP[case]
    with pytest.raises(ArscInputError, match=match) as err:
        from_vasp(make(tmp_path), atoms)
    assert "\n" not in str(err.value)
