"""Make the CHGNet vibrational corrections of docs/thermo.md (provenance of this folder).

Run from the checkout: ``.venv/bin/python tests/data/thermo/vib_chgnet/make.py OUTDIR``
(about 30 min on two busy CPU cores; force calls are cached in OUTDIR/scratch, and a
re-run keeps OUTDIR/bare.extxyz, so it reuses them: the CHGNet relaxation of the bare
site is not bitwise reproducible, about 1e-3 A).

1. Build the bare Fe-Fe_qv-n6_graphene site at the smallest supercell
   (min_image 5 A, 30 atoms) and relax it whole with CHGNet (BFGS, 0.05 eV/A).
2. Place every intermediate in mode top1 on the relaxed site (arsc.structures.add_adsorbate).
3. Analyse them as ``arsc corrections`` does (CHGNet; adsorbate relaxed to 0.01 eV/A
   with the site fixed, finite differences 0.01 A; gas molecules relaxed and analysed
   as ideal gases): OUTDIR/chgnet-fe2.yaml is the references table ``arsc corrections``
   writes (base vasp-pbe), OUTDIR/chgnet-fe2.json the frequencies, terms and corrections
   (with CHGNet's own gas terms, and with the experimental gas terms of gases.yaml).
"""

import json
import sys
from pathlib import Path

from ase.io import read, write
from ase.optimize import BFGS

from arsc.space import Site
from arsc.structures import add_adsorbate, build
from arsc.thermo import dump_references, load_references
from arsc.thermo.vibrations import corrections_table, experimental_gas_terms, formation_corrections
from workflows.engines.mlip import load_calculator
from workflows.engines.vibrations import VibrationsMaker, analyse_states

INTERMEDIATES = ["COOH", "OCHO", "CO", "CHO", "COH", "OH", "O", "H", "OOH",
                 "N2", "N2H", "NNH2", "NHNH", "N", "NH", "NH2", "NH3"]  # fmt: skip


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    if (out / "bare.extxyz").is_file():  # a re-run: the same site, so the cached force calls match
        relaxed = read(out / "bare.extxyz")
    else:
        bare = build(Site.from_id("Fe-Fe_qv-n6_graphene"), min_image=5.0)
        work = bare.copy()
        work.calc = load_calculator("chgnet")
        BFGS(work, logfile=str(out / "bare-relax.log")).run(fmax=0.05, steps=500)
        relaxed = bare.copy()
        relaxed.positions = work.positions
        write(out / "bare.extxyz", relaxed)
    states = [add_adsorbate(relaxed, x, "top1") for x in INTERMEDIATES]
    for x, atoms in zip(INTERMEDIATES, states, strict=True):
        write(out / f"{x}.extxyz", atoms)
    ads, gases = analyse_states(VibrationsMaker(scratch_dir=str(out / "scratch")), states)
    table = corrections_table(ads, gases, load_references("vasp-pbe"), "chgnet-fe2")
    (out / "chgnet-fe2.yaml").write_text(
        dump_references(table, note="tests/data/thermo/vib_chgnet")
    )
    own = {k: t for k, (_, t) in ads.items()}
    doc = {
        "analyses": [a.model_dump() for a, _ in [*ads.values(), *gases.values()]],
        "adsorbate_terms": {
            k: {"zpe": t.zpe, "ts": t.ts, "raised": t.raised} for k, (_, t) in ads.items()
        },
        "gas_terms": {k: {"zpe": t.zpe, "ts": t.ts} for k, (_, t) in gases.items()},
        "corrections_own_gases": formation_corrections(own, {k: t for k, (_, t) in gases.items()}),
        "corrections_experimental_gases": formation_corrections(own, experimental_gas_terms()),
    }
    (out / "chgnet-fe2.json").write_text(json.dumps(doc, indent=1))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
