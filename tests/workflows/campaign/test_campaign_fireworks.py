"""A campaign on the FireWorks + SLURM backend: real SLURM, real MLIP (CHGNet) jobs.

No MongoDB server can run here, so the LaunchPad is FireWorks' mongomock
backend (a JSON file; one process at a time: the workers run sequentially,
``dependency=singleton``), as the test name says. SLURM (scripts/slurm.sh),
FireWorks, jobflow, the workers and the embedded job store are real; the
store reaches the workers inside each firework (its serialised form).
"""

from __future__ import annotations

import os
import subprocess
from datetime import UTC, datetime

import pytest
import yaml
from jobflow import Flow
from jobflow.managers.fireworks import flow_to_workflow
from monty.json import MontyDecoder

from tests.paths import ROOT
from tests.workflows.fw_jobs import add
from workflows.campaign.backends import LocalBackend
from workflows.campaign.definition import read_definition
from workflows.campaign.loop import run_campaign, start_campaign
from workflows.executors.fireworks import open_launchpad, status_rows

ROOT = ROOT


def test_store_survives_flow_to_workflow_serialisation(tmp_path):
    """The embedded store the workers open is rebuilt from the firework's spec."""
    path = tmp_path / "c.yaml"
    path.write_text("name: s\nspace: {metals: [Fe]}\n")
    backend = LocalBackend(tmp_path / "c", read_definition(path), datetime.now(UTC))
    wf = flow_to_workflow(Flow([add(1, 2)]), store=backend.store())
    spec_store = wf.fws[0].tasks[0]["store"]
    revived = MontyDecoder().process_decoded(spec_store.as_dict())
    assert revived.docs_store.path == str((tmp_path / "c" / "store.sqlite").resolve())
    assert revived.additional_stores["data"].path == revived.docs_store.path


@pytest.mark.slurm
def test_campaign_runs_two_rounds_on_fireworks_and_real_slurm_mongomock_launchpad(
    tmp_path, mongomock_lp, slurm, monkeypatch
):
    pytest.importorskip("chgnet", reason="the MLIP extra (scripts/install.sh installs it)")
    monkeypatch.setenv("SLURM_CONF", slurm)
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    queue = tmp_path / "queue.yaml"
    name = f"arsc-c{os.getpid()}"
    queue.write_text(
        yaml.safe_dump(
            {
                "partition": "debug",
                "cpus_per_task": 1,
                "job_name": name,
                "ping_seconds": 1,
                "env": {"PYTHONPATH": str(ROOT)},
            }
        )
    )
    path = tmp_path / "campaign.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "name": "fw-slurm",
                "space": {"metals": ["Fe", "Co", "Ni"], "motifs": ["qv-n6"]},
                "objective": {"reaction": "her", "goal": "min"},
                "dft": {
                    "executor": "fireworks",
                    "engine": "mlip",
                    "relax": "mlip",
                    "modes": ["top1"],
                    "min_image": 9.5,
                    "fireworks": {
                        "launchpad": str(mongomock_lp),
                        "qadapter": str(queue),
                        "poll_seconds": 1.0,
                        "timeout_seconds": 1500,
                    },
                },
                "acquisition": {"strategy": "ucb", "batch": 1},
                "budget": {"dft_calculations": 5},  # H2 + 2 sites x (bare, *H) single points
            }
        )
    )
    campaign = start_campaign(read_definition(path), tmp_path / "run", show_progress=False)
    state = run_campaign(campaign)
    assert state.status == "finished", state.error
    assert [len(r.selection.sites) for r in state.rounds] == [1, 1]
    assert state.accounting.dft_calculations == 5
    for rnd in state.rounds:
        (res,) = rnd.results
        assert res.status == "ok" and res.site_doc["engine"] == "mlip"
        assert res.dg["H"] is not None
    with open_launchpad(mongomock_lp) as lp:
        rows = status_rows(lp)
    assert rows and {r["state"] for r in rows} == {"COMPLETED"}
    assert all(r["launches"] == 1 for r in rows)  # every firework ran once
    sacct = subprocess.run(
        ["sacct", "-c", "-P", "-n", "--format=JobName,State"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"{name}|COMPLETED" in sacct  # the workers were SLURM jobs
