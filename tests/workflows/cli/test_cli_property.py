"""Property-based test of the CLI's promise on bad input, for every verb.

Hypothesis generates bad values (unknown names, empty strings, NaN, infinities,
out-of-range numbers, missing paths, folders where files belong, junk files,
outputs that are the command's own inputs or files it did not make, and
campaign files with one key spoiled) and substitutes one into an otherwise
valid command line of one verb. Every case must end with:

- exit code 2;
- exactly one line on stderr, starting ``arsc: error:``, and no traceback;
- every file and folder of the sandbox byte-identical, and nothing new in it.

The verbs are run in-process through :func:`workflows.cli.main.main`. No
case may reach real work: each one is refused during validation, so the whole
suite takes about a minute. ``CASES`` counts what ran (printed at the end of
the session with ``-s``).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import math
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arsc.elements import load_elements
from tests.paths import DATA
from tests.workflows.campaign_helpers import write_campaign
from workflows.cli.main import VERBS, load_verb, main

SITE = "Fe-Co_qv-n6_graphene"
CASES: dict[str, int] = {}
#: Verbs the generators below draw command lines for (filled as they are built).
GENERATED: set[str] = {"campaign run"}  # campaign files: the spoilt-key test
PROFILE = settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


# ---- the sandbox: a user's folder with their own files -------------------------------
@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding a user's files: tables, a model, a campaign, a VASP tree."""
    root = tmp_path_factory.mktemp("user")
    shutil.copy(DATA / "model" / "synthetic_orr.csv", root / "train.csv")
    shutil.copy(DATA / "replay" / "synthetic_orr.csv", root / "replay.csv")
    shutil.copy(DATA / "thermo" / "energies_synthetic.csv", root / "energies.csv")
    shutil.copy(DATA / "model" / "pfess_demo.csv", root / "pairs.csv")
    shutil.copytree(DATA / "vasp" / "sac-hoer_2N2_Fe_OH", root / "tree" / "2N2_Fe_OH")
    (root / "notes.txt").write_text("my own notes\n")
    (root / "junk.csv").write_bytes(b"\x00\xff\xfe garbage, not a table\n\x89PNG")
    (root / "empty.csv").write_text("")
    (root / "header_only.csv").write_text("metal1,metal2,coord_N1,coord_C1,intermediate,dG\n")
    (root / "folder.csv").mkdir()
    pred = "site,prediction\n" + "".join(f"s{i},{0.1 * i}\n" for i in range(12))
    (root / "pred.csv").write_text(pred)
    (root / "dft.csv").write_text(pred.replace("prediction", "dG"))
    with _chdir(root):
        assert main(["build", SITE, "-a", "OH", "--mode", "top1", "-o", "state.extxyz"]) == 0
        assert main(["fit", "train.csv", "-t", "dG", "-o", "model.json", "--variant", "base"]) == 0
    write_campaign(root / "camp")
    with _chdir(root), contextlib.redirect_stdout(io.StringIO()):
        assert (
            main(["campaign", "run", "camp/campaign.yaml", "--dir", "done", "--no-progress"]) == 0
        )
    return root


@contextlib.contextmanager
def _chdir(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _snapshot(root: Path) -> dict[str, str]:
    """Path -> content hash of every file ('dir' for folders) under root."""
    snap = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            snap[os.path.relpath(os.path.join(dirpath, d), root)] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            snap[os.path.relpath(p, root)] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    return snap


def assert_refused(verb: str, argv: list[str], root: Path, reason: str = "") -> None:
    """Run ``arsc argv`` in ``root``; assert exit 2, one clean line, nothing changed.

    ``reason``, when given, must appear in the line (the refusal is for the bad value).
    """
    CASES[verb] = CASES.get(verb, 0) + 1
    before = _snapshot(root)
    out, err = io.StringIO(), io.StringIO()
    with _chdir(root), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            rc = main(argv)
        except BaseException as exc:  # a traceback is exactly what must not happen
            pytest.fail(f"arsc {argv!r} raised {type(exc).__name__}: {exc}")
    lines = err.getvalue().splitlines()
    assert rc == 2, f"arsc {argv!r} exited {rc}; stderr {err.getvalue()!r}"
    assert len(lines) == 1 and lines[0].startswith("arsc: error: "), (argv, lines)
    assert "Traceback" not in err.getvalue()
    assert reason in lines[0], (argv, lines[0])
    assert "np.float64" not in lines[0] and "np.int64" not in lines[0], lines[0]
    after = _snapshot(root)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    assert not changed, f"arsc {argv!r} changed {sorted(changed)}"


# ---- generators of bad values ----------------------------------------------------------
METALS = set(load_elements("default").index)


def bad_names(valid: set[str]) -> st.SearchStrategy[str]:
    """Strings that are not a comma-separated list of valid names (empty ones included)."""
    text = st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=0, max_size=12
    )
    return text.filter(
        lambda s: not s.strip() or not all(v.strip() in valid for v in s.split(","))
    ).filter(lambda s: "\x00" not in s)


def bad_numbers(low: float, high: float, integer: bool = False) -> st.SearchStrategy[str]:
    """Numbers outside [low, high], non-finite ones and words."""
    words = st.sampled_from(["nan", "inf", "-inf", "1e999", "abc", "", " ", "1,5"])
    if integer:
        words = st.sampled_from(["nan", "inf", "abc", "", "1.5", "1e3x"])
        below = st.integers(max_value=int(low) - 1).map(str)
        above = st.integers(min_value=int(high) + 1).map(str)
    else:
        below = st.floats(max_value=low, exclude_max=True, allow_nan=False).map(repr)
        above = st.floats(min_value=high, exclude_min=True, allow_infinity=False).map(repr)
    return st.one_of(words, below, above)


#: Paths that are not a readable input file of the expected kind.
BAD_INPUTS = st.sampled_from(
    ["missing.csv", "folder.csv", "junk.csv", "empty.csv", "nowhere/x.csv", "tree", "notes.txt"]
)
#: Output paths that must be refused: an existing folder, a file the command did not
#: make, a path under a file, a path inside the VASP tree (read by ingest).
BAD_OUTPUTS = st.sampled_from(
    ["folder.csv", ".", "notes.txt", "notes.txt/x.csv", "train.csv", "model.json", "pred.csv"]
)


def _case(verb: str, template: list[str], values: st.SearchStrategy[str]) -> Any:
    """A (verb, argv) strategy: ``template`` with ``{}`` replaced by a drawn value."""
    GENERATED.add(verb)
    return values.map(lambda v: (verb, [v if a == "{}" else a for a in template]))


# ---- the verbs ----------------------------------------------------------------------
def science_cases() -> st.SearchStrategy[tuple[str, list[str]]]:
    """Bad input: space, build, elements, pfess, fit, predict, activity, validate, corrections."""
    motifs = {"qv-n6", "dv-n6", "c2n-n6", "pyrrolic-n6", "qv-n4c2", "qv-n2c4"}
    num = bad_numbers
    return st.one_of(
        _case("space", ["space", "-m", "{}"], bad_names(METALS)),
        _case("space", ["space", "--motifs", "{}"], bad_names(motifs)),
        _case("space", ["space", "--supports", "{}"], bad_names({"graphene", "c2n"})),
        _case("space", ["space", "--motifs", "c2n-n6", "--supports", "{}"], st.just("graphene")),
        _case("space", ["space", "-m", "Fe,Co", "-o", "{}"], BAD_OUTPUTS),
        _case("build", ["build", "{}"], bad_names(set())),
        _case("build", ["build", SITE, "--min-image", "{}"], num(5.0, 40.0)),
        _case("build", ["build", SITE, "-a", "{}"], bad_names({"OH", "O", "OOH", "H"})),
        _case("build", ["build", SITE, "-a", "OH", "--mode", "{}"], bad_names({"top1", "top2"})),
        _case("build", ["build", SITE, "-o", "{}"], BAD_OUTPUTS),
        _case("elements", ["elements", "--elements", "{}"], bad_names({"default", "authors"})),
        _case("pfess", ["pfess", "{}", "-t", "property"], BAD_INPUTS),
        _case(
            "pfess",
            ["pfess", "pairs.csv", "-t", "property", "--cv-folds", "{}"],
            num(2, 1000, True),
        ),
        _case("pfess", ["pfess", "pairs.csv", "-t", "property", "--dim", "{}"], num(1, 3, True)),
        _case(
            "pfess",
            ["pfess", "pairs.csv", "-t", "property", "--mode", "authors", "--time-limit", "{}"],
            num(0.0, 1e6).filter(lambda v: v != "0.0"),
        ),
        _case("fit", ["fit", "{}", "-t", "dG", "-o", "m.json"], BAD_INPUTS),
        _case("fit", ["fit", "header_only.csv", "-t", "{}", "-o", "m.json"], st.just("dG")),
        _case(
            "fit",
            ["fit", "train.csv", "-t", "dG", "-o", "{}"],
            st.sampled_from(["train.csv", "folder.csv", "notes.txt", "notes.txt/m.json"]),
        ),
        _case(
            "fit",
            ["fit", "train.csv", "-t", "dG", "-o", "m.json", "--ensemble", "{}"],
            num(0, 1000, True),
        ),
        _case(
            "fit",
            ["fit", "train.csv", "-t", "dG", "-o", "m.json", "--folds", "{}"],
            num(2, 1000, True),
        ),
        _case(
            "fit",
            ["fit", "train.csv", "-t", "dG", "-o", "m.json", "--groups", "{}"],
            bad_names({"pair", "metal1", "motif", "coord"}),
        ),
        _case("fit", ["fit", "train.csv", "-t", "{}", "-o", "m.json"], bad_names({"dG"})),
        _case(
            "predict",
            ["predict", "model.json", "train.csv", "-o", "{}"],
            st.sampled_from(["train.csv", "model.json", "folder.csv", "notes.txt", "."]),
        ),
        _case("predict", ["predict", "{}", "train.csv", "-o", "p.csv"], BAD_INPUTS),
        _case(
            "activity",
            ["activity", "energies.csv", "--references", "{}"],
            bad_names({"vasp-pbe", "gpaw-pbe"}),
        ),
        _case(
            "activity",
            ["activity", "energies.csv", "--references", "vasp-pbe", "-r", "{}"],
            bad_names({"orr", "oer", "her", "crr", "nrr", "bifunctional"}),
        ),
        _case(
            "activity",
            ["activity", "energies.csv", "--references", "vasp-pbe", "-o", "{}"],
            st.sampled_from(["energies.csv", "folder.csv", "notes.txt", "notes.txt/a.csv"]),
        ),
        _case("activity", ["activity", "{}", "--references", "vasp-pbe"], BAD_INPUTS),
        _case("validate", ["validate", "pred.csv", "dft.csv", "--k", "{}"], num(1, 100000, True)),
        _case(
            "validate",
            ["validate", "pred.csv", "dft.csv", "--plot", "{}"],
            st.sampled_from(["pred.csv", "dft.csv", "notes.txt", "folder.csv"]),
        ),
        _case("validate", ["validate", "{}", "dft.csv"], BAD_INPUTS),
        _case("corrections", ["corrections", "{}", "-o", "refs.yaml"], BAD_INPUTS),
        _case(
            "corrections",
            ["corrections", "state.extxyz", "-o", "refs.yaml", "--engine", "{}"],
            bad_names({"mlip", "gpaw"}),
        ),
        _case(
            "corrections",
            ["corrections", "state.extxyz", "-o", "refs.yaml", "--base", "{}"],
            bad_names({"vasp-pbe", "gpaw-template"}),
        ),
        _case(
            "corrections",
            ["corrections", "state.extxyz", "-o", "refs.yaml", "--model", "{}"],
            bad_names({"chgnet", "sevenn"}),
        ),
        _case(
            "corrections",
            ["corrections", "state.extxyz", "-o", "{}"],
            st.sampled_from(["state.extxyz", "folder.csv", "notes.txt", "notes.txt/r.yaml", "."]),
        ),
    )


def workflow_cases() -> st.SearchStrategy[tuple[str, list[str]]]:
    """Bad input for ingest, replay, report, results, run, screen, submit, status, resume."""
    num = bad_numbers
    replay = ["campaign", "replay", "replay.csv", "-t", "overpotential"]
    return st.one_of(
        _case(
            "ingest vasp",
            ["ingest", "vasp", "{}", "-o", "e.csv"],
            st.sampled_from(["missing", "notes.txt", "junk.csv"]),
        ),
        _case(
            "ingest vasp",
            ["ingest", "vasp", "tree", "-o", "{}"],
            st.sampled_from(
                ["tree/2N2_Fe_OH/INCAR", "tree/e.csv", "notes.txt", "folder.csv", "tree"]
            ),
        ),
        _case(
            "ingest gpaw",
            ["ingest", "gpaw", "{}", "-o", "e.csv"],
            st.sampled_from(["missing", "notes.txt"]),
        ),
        _case("campaign replay", [*replay, "--seeds", "{}"], num(1, 1000, True)),
        _case("campaign replay", [*replay, "--batch", "{}"], num(1, 100000, True)),
        _case("campaign replay", [*replay, "--kappa", "{}"], num(0.0, 100.0)),
        _case(
            "campaign replay",
            [*replay, "--surrogate", "{}"],
            bad_names({"arsc", "hier", "gp", "rf"}),
        ),
        _case("campaign replay", ["campaign", "replay", "{}", "-t", "dG"], BAD_INPUTS),
        _case(
            "campaign resume",
            ["campaign", "resume", "{}"],
            st.sampled_from(["missing", "notes.txt", "tree", "."]),
        ),
        _case(
            "campaign validate",
            ["campaign", "validate", "{}"],
            st.sampled_from(["missing", "notes.txt", "tree"]),
        ),
        _case("report", ["report", "{}"], st.sampled_from(["train.csv", "missing", "tree", "."])),
        _case(
            "results",
            ["results", "--project", "{}"],
            st.sampled_from(["notes.txt", "missing-project"]),
        ),
        _case("run", ["run", "{}", "--no-progress"], bad_names(set())),
        _case("run", ["run", SITE, "--min-image", "{}", "--no-progress"], num(5.0, 40.0)),
        _case(
            "run",
            ["run", SITE, "--modes", "{}", "--no-progress"],
            bad_names({"top1", "top2", "bridge", "side-on"}),
        ),
        _case("screen", ["screen", "--budget", "{}"], num(6, 10**7, True)),
        _case("screen", ["screen", "--engine", "{}"], bad_names({"gpaw", "mlip"})),
        _case("submit", ["submit", "{}", "--no-launch"], bad_names(set())),
        _case("submit", ["submit", SITE, "--max-jobs", "{}"], num(1, 10000, True)),
        _case("status", ["status", "--lost-after", "{}"], num(0.0, 365 * 86400.0)),
        _case("resume", ["resume", "--max-jobs", "{}"], num(1, 10000, True)),
        _case(
            "finetune",
            ["finetune", "--traj", "{}"],
            st.sampled_from(["missing.traj", "folder.csv"]),
        ),
        _case("finetune", ["finetune", "--epochs", "{}"], num(1, 10000, True)),
    )


NAN, INF = math.nan, math.inf
#: Keys of the test campaign file and values that make it invalid (each one alone).
SPOILT: dict[tuple[str, ...], list[Any]] = {
    ("name",): ["", [], {}],
    ("space", "metals"): ["", [], ["Xx"], "nosuch", ["Fe", ""]],
    ("space", "motifs"): ["", [], ["nosuch"], "nosuch"],
    ("space", "supports"): ["", [], ["nosuch"]],
    ("objective", "reaction"): ["", "nosuch", NAN, []],
    ("dft", "executor"): ["", "nosuch", NAN],
    ("dft", "modes"): ["", [], ["nosuch"]],
    ("dft", "replay", "table"): ["", "missing.csv", "notes.txt", "folder.csv", "junk.csv"],
    ("dft", "replay", "seconds_per_calculation"): [NAN, INF, -1.0, -INF, "abc"],
    ("dft", "corrections"): ["", "nosuchref", NAN],
    ("acquisition", "strategy"): ["", "nosuch", NAN],
    ("acquisition", "batch"): [NAN, INF, -1, 0, 1.5, "abc", 1e300],
    ("acquisition", "prune_recall"): [NAN, INF, -1.0, 0.0, 1.5, "abc"],
    ("budget", "dft_calculations"): [NAN, INF, -1, 0, 1.5, "abc"],
    ("stopping", "kappa"): [NAN, INF, -INF, -1.0, "abc"],
}
SPOILT_CASES = st.sampled_from([(k, v) for k, vs in SPOILT.items() for v in vs])


@given(case=science_cases())
@PROFILE
def test_science_verbs_refuse_bad_input(sandbox: Path, case: tuple[str, list[str]]) -> None:
    """space, build, elements, pfess, fit, predict, activity, validate, corrections: exit 2."""
    assert_refused(*case, sandbox)


@given(case=workflow_cases())
@PROFILE
def test_workflow_verbs_refuse_bad_input(sandbox: Path, case: tuple[str, list[str]]) -> None:
    """ingest, campaign, report, results, run, screen, submit, status, resume, finetune."""
    assert_refused(*case, sandbox)


def _spoil(data: dict[str, Any], key: tuple[str, ...], value: Any) -> dict[str, Any]:
    node = data
    for k in key[:-1]:
        node = node.setdefault(k, {})
    node[key[-1]] = value
    return data


@given(case=SPOILT_CASES)
@PROFILE
def test_campaign_file_spoilt_key_is_refused_before_any_write(
    sandbox: Path, case: tuple[tuple[str, ...], Any]
) -> None:
    """A campaign file with one spoilt key: refused in one line; no campaign folder made."""
    key, value = case
    data = yaml.safe_load((sandbox / "camp" / "campaign.yaml").read_text())
    bad = sandbox / "spoilt.yaml"
    bad.write_text(yaml.safe_dump(_spoil(data, key, value)))
    try:
        assert_refused("campaign run", ["campaign", "run", "spoilt.yaml", "--dir", "new"], sandbox)
    finally:
        bad.unlink()


@pytest.mark.parametrize(
    "text",
    ["name: [unclosed", "- a list\n- not a mapping\n", "", "\x00\x01", "name: x\nspace: 5\n"],
)
def test_malformed_campaign_yaml_is_refused(sandbox: Path, text: str) -> None:
    """Malformed YAML, a non-mapping, an empty file, binary bytes, a section of the wrong type."""
    bad = sandbox / "spoilt.yaml"
    bad.write_text(text)
    try:
        assert_refused("campaign run", ["campaign", "run", "spoilt.yaml", "--dir", "new"], sandbox)
    finally:
        bad.unlink()


def test_every_verb_is_covered() -> None:
    """The generators draw command lines for every verb and sub-verb the CLI has."""
    names = set()
    for verb in VERBS:
        command = load_verb(verb)
        subs = getattr(command, "commands", {})
        names |= {f"{verb} {s}" for s in subs} if subs else {verb}
    science_cases(), workflow_cases()
    assert names == GENERATED, GENERATED ^ names
    assert len(names) == 23


@pytest.fixture(scope="module")
def readonly(sandbox: Path) -> Iterator[Path]:
    """A read-only file system (tmpfs mounted ``ro``) inside the sandbox; skip where none can be.

    Permission bits do not stop root, a read-only mount does: this is how a
    user's write-protected share behaves.
    """
    folder = sandbox / "ro"
    folder.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(folder)], check=False)
    if done.returncode != 0:
        folder.rmdir()
        pytest.skip(
            "cannot mount a read-only tmpfs here (needs root in a container that allows it)"
        )
    yield folder
    subprocess.run(["umount", str(folder)], check=False)
    folder.rmdir()


@pytest.mark.parametrize(
    "argv",
    [
        ["space", "-m", "Fe,Co", "--motifs", "qv-n6", "-o", "ro/sites.csv"],
        ["build", SITE, "-o", "ro/site.extxyz"],
        ["fit", "train.csv", "-t", "dG", "-o", "ro/m.json"],
        ["predict", "model.json", "train.csv", "-o", "ro/p.csv"],
        ["activity", "energies.csv", "--references", "vasp-pbe", "-o", "ro/a.csv"],
        ["validate", "pred.csv", "dft.csv", "--plot", "ro/parity.png"],
        ["ingest", "vasp", "tree", "-o", "ro/e.csv"],
        ["campaign", "run", "camp/campaign.yaml", "--dir", "ro/camp"],
        ["screen", "--engine", "mlip", "--project", "ro/screen"],
        ["report", "done", "-o", "ro/report"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_read_only_output_folder_is_refused_before_any_work(
    sandbox: Path, readonly: Path, argv: list[str]
) -> None:
    """An output on a read-only file system: one line naming the folder, nothing written."""
    assert_refused(argv[0], argv, sandbox, reason="not writable")
