"""run_local names every job that raised, in one line each (jobflow only logs them).

Real jobflow flow on the embedded persistent store (workflows.store.make_store).
"""

from __future__ import annotations

import io

from jobflow import Flow, job
from rich.console import Console

from workflows.executors.local import run_local, unfinished
from workflows.settings import ArscSettings
from workflows.store import make_store


@job
def _fine(x: int) -> int:
    return x + 1


@job
def _breaks(x: int) -> int:
    raise RuntimeError(f"Armijo linesearch failed after reset of Hessian, aborting ({x})")


def test_a_job_that_raised_is_printed_with_its_exception_and_the_rest_still_runs(tmp_path) -> None:
    store = make_store(ArscSettings(project=tmp_path / "proj"))
    good, bad = _fine(1), _breaks(2)
    good.name, bad.name = "Fe-Co bare relax", "Fe-Co OH relax"
    flow = Flow([good, bad])
    out = io.StringIO()
    responses = run_local(
        flow, store, progress=False, root_dir=tmp_path, console=Console(file=out, width=300)
    )
    lines = out.getvalue().splitlines()
    assert lines == [
        "job 'Fe-Co OH relax' raised RuntimeError: Armijo linesearch failed after reset of "
        "Hessian, aborting (2)"
    ]
    assert unfinished(flow, responses) == ["Fe-Co OH relax"]
    store.connect()
    assert store.get_output(good.uuid) == 2
