"""Process-parallel maps (arsc.parallel)."""

from arsc.parallel import default_workers, process_map


def test_process_map_keeps_the_order_of_the_jobs_in_processes_and_in_this_one():
    jobs = [(2, k) for k in range(6)]
    assert process_map(pow, jobs, 2) == process_map(pow, jobs, 1) == [1, 2, 4, 8, 16, 32]
    assert process_map(pow, [], 4) == []


def test_default_workers_is_at_least_one():
    assert default_workers() >= 1
