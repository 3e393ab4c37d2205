"""Process-parallel maps (arsc.parallel)."""

import subprocess
import sys

from arsc.parallel import NO_WORKERS, default_workers, process_map


def test_process_map_keeps_the_order_of_the_jobs_in_processes_and_in_this_one():
    jobs = [(2, k) for k in range(6)]
    assert process_map(pow, jobs, 2) == process_map(pow, jobs, 1) == [1, 2, 4, 8, 16, 32]
    assert process_map(pow, [], 4) == []


def test_default_workers_is_at_least_one():
    assert default_workers() >= 1


def test_a_script_without_main_guard_gets_its_results_and_a_warning(tmp_path):
    """Spawned workers re-import the main module; unguarded, they die: the jobs run here."""
    script = tmp_path / "unguarded.py"
    script.write_text(
        "from arsc.parallel import process_map\n"
        "print('RESULT', process_map(pow, [(2, k) for k in range(4)], 2))\n"
    )
    run = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=120, check=True
    )
    assert "RESULT [1, 2, 4, 8]" in run.stdout
    assert NO_WORKERS in run.stderr
