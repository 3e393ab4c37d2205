"""Executors: run flows locally (jobflow run_locally) or at scale (FireWorks + SLURM)."""
