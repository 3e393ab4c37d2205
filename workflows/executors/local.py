"""Run flows in this process (jobflow ``run_locally``) with a progress bar, and resume them.

Resume needs no bookkeeping of its own: every engine job looks its
fingerprint up in the store first (:mod:`workflows.cache`), so running the
same request again recomputes nothing that finished -- after a normal end,
an error or a ``kill -9``. :class:`RunRequest` is the request, kept as
``<project>/last_request.json`` so that ``arsc run --resume`` can rebuild the
same flow.
"""

from __future__ import annotations

import logging
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from jobflow import Flow, Job, JobStore, Response, run_locally
from pydantic import Field
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from arsc.errors import ArscInputError
from arsc.jsonio import load_json, save_json
from arsc.space import Site
from workflows.cache import retrying_failed
from workflows.flow_options import FlowOptions
from workflows.flows import DacAdsorptionFlow

#: File of the last request, in the project folder.
REQUEST_FILE = "last_request.json"

Responses = dict[str, dict[int, Response]]


class RunRequest(FlowOptions):
    """What ``arsc run`` was asked to do (enough to rebuild the same flow): sites and options.

    The flow's options are the fields of :class:`workflows.flow_options.FlowOptions`,
    stored flat next to ``sites``, as ``last_request.json`` always held them
    (older files, without ``prerelax_weights`` or ``corrections``, load
    with those fields' defaults).
    """

    sites: list[str] = Field(description="Site ids (M1-M2_motif_support)")

    @classmethod
    def of(cls, sites: Sequence[str], options: FlowOptions) -> RunRequest:
        """Return the request to run ``options`` on ``sites``."""
        return cls.model_validate({"sites": list(sites), **options.model_dump()})

    def options(self) -> FlowOptions:
        """Return the flow's options of this request (without the sites)."""
        return FlowOptions.model_validate(self.model_dump(exclude={"sites"}))

    def maker(self) -> DacAdsorptionFlow:
        """Return the flow Maker of this request."""
        return DacAdsorptionFlow.from_options(self)

    def site_ids(self) -> list[str]:
        """Return the canonical site ids (``Co-Fe_qv-n6_graphene`` -> ``Fe-Co_qv-n6_graphene``)."""
        return [Site.from_id(s).id for s in self.sites]

    def flow(self) -> Flow:
        """Build the flow (checks sites, reactions, modes, engines and presets)."""
        return self.maker().make(self.sites)

    def save(self, project: Path) -> Path:
        """Write the request to ``<project>/last_request.json`` (atomically)."""
        return save_json(project / REQUEST_FILE, self, indent=2, newline=False)

    @classmethod
    def load(cls, project: Path) -> RunRequest:
        """Read the last request of a project.

        Raises
        ------
        ArscInputError
            No request recorded, or the file is not a valid request.
        """
        path = project / REQUEST_FILE
        if not path.is_file():
            raise ArscInputError(
                f"nothing to resume in project {str(project)!r}: no {REQUEST_FILE}; "
                "start with `arsc run SITE_IDS...`"
            )
        return load_json(
            path, cls, what="request file", source=f"malformed request file {str(path)!r}"
        )


class _ProgressHandler(logging.Handler):
    """Turn jobflow's per-job log records into progress-bar updates."""

    _START = re.compile(r"^Starting job - (?P<name>.*) \((?P<uuid>[^,()]+)(?:, (?P<index>\d+))?\)$")

    def __init__(self, progress: Progress | None, total: int) -> None:
        super().__init__(level=logging.INFO)
        self.progress = progress
        self.task = progress.add_task("starting", total=total) if progress else None
        self.total = total
        self.done = 0
        self.failed = 0
        #: One line per job that raised: its name and the exception's last line.
        self.errors: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        msg = record.getMessage()
        start = self._START.match(msg)
        if start is not None:
            if start.group("index"):  # a replacement job (the next step of a state)
                self.total += 1
            self._update(description=start.group("name"))
        elif msg.startswith("Finished job - "):
            self.done += 1
            self._update()
        elif " failed with exception" in msg:
            self.done += 1
            self.failed += 1
            name, _, trace = msg.partition(" failed with exception")
            last = [line.strip() for line in trace.splitlines() if line.strip()]
            self.errors.append(f"job {name!r} raised {last[-1] if last else 'an exception'}")
            self._update()

    def _update(self, **kwargs: Any) -> None:
        if self.progress is not None and self.task is not None:
            self.progress.update(self.task, completed=self.done, total=self.total, **kwargs)


@contextmanager
def _listening(handler: _ProgressHandler) -> Iterator[None]:
    logger = logging.getLogger("jobflow")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def _progress(console: Console | None) -> Progress:
    return Progress(
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("jobs"),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console or Console(stderr=True),
        transient=False,
    )


def run_local(
    flow: Flow | Job,
    store: JobStore,
    progress: bool = True,
    *,
    retry_failed: bool = False,
    root_dir: str | Path | None = None,
    console: Console | None = None,
) -> Responses:
    """Run a flow with jobflow's ``run_locally``, showing a progress bar.

    Parameters
    ----------
    flow
        The flow (or job).
    store
        The job store (connected here).
    progress
        Show a rich progress bar on stderr: jobs done / total and the current job.
    retry_failed
        Recompute calculations whose stored documents all failed
        (:func:`workflows.cache.retrying_failed`); by default they are reported.
    root_dir
        Working directory of the jobs (engines write their files there);
        default the current directory.
    console
        Console for the progress bar (default stderr).

    Returns
    -------
    dict
        jobflow's responses, ``{uuid: {index: Response}}``; a job that raised
        (or was skipped because a job it needs raised) has none, and one line
        per job that raised (its name and the exception's last line) is
        printed to ``console``.
    """
    total = len(flow.jobs) if isinstance(flow, Flow) else 1
    bar = _progress(console) if progress else None
    handler = _ProgressHandler(bar, total)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Some jobs are not connected")
        warnings.filterwarnings("ignore", message="cd is deprecated", category=FutureWarning)
        with _listening(handler), retrying_failed(retry_failed):
            if bar is not None:
                bar.start()
            try:
                responses = run_locally(flow, store=store, log=False, root_dir=root_dir)
            finally:
                if bar is not None:
                    bar.update(handler.task, description="done")  # type: ignore[arg-type]
                    bar.stop()
    for line in handler.errors:  # jobflow only logs them; a user must see what raised
        (console or Console(stderr=True)).print(line, markup=False, highlight=False)
    return responses


def unfinished(flow: Flow | Job, responses: Responses) -> list[str]:
    """Return the names of the flow's jobs without a response (they raised or were skipped)."""
    jobs = flow.jobs if isinstance(flow, Flow) else [flow]
    return [j.name for j in jobs if j.uuid not in responses]
