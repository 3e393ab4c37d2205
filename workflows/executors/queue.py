"""SLURM queue settings and the job script they render, with every value validated and quoted.

:class:`QueueSettings` is the queue part of a submission (partition, nodes,
cores, walltime, account, modules, conda environment, virtualenv). It is read
from a YAML file (default: the packaged ``workflows/data/qadapter_slurm.yaml``;
``arsc submit --qadapter FILE``) and from command-line overrides.

How values reach the script, and why nothing in them can run:

* values on ``#SBATCH`` lines (partition, account, qos, job name, walltime,
  memory, constraint) must match strict patterns (letters, digits and a few
  punctuation marks; no space, quote, ``$``, ``;`` or newline): sbatch reads
  these lines itself, so shell quoting would not protect them;
* values that go into shell commands (module names, conda environment, paths,
  environment variables) are validated (names by pattern; paths and
  variable values must be absolute / free of control characters, newlines
  included) and then passed through :func:`shlex.quote`, so a path such as
  ``/data/$(rm -rf ~)`` is just an odd directory name to bash;
* the adapter re-validates at render time (:meth:`ArscSlurmAdapter.get_script_str`),
  so values changed after loading (``qadapter.update(...)``, FireWorks'
  ``_queueadapter`` spec key) are checked as well.

Examples
--------
>>> q = QueueSettings(partition="debug", walltime="01:00:00", modules=["gpaw/24.1"])
>>> print(q.preamble())
module load gpaw/24.1 || exit 3
>>> QueueSettings(partition="x; rm -rf ~")  # doctest: +IGNORE_EXCEPTION_DETAIL
Traceback (most recent call last):
pydantic_core._pydantic_core.ValidationError: ...
"""

from __future__ import annotations

import re
import shlex
import string
import sys
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Any

import yaml
from fireworks.user_objects.queue_adapters.common_adapter import CommonAdapter
from fireworks.utilities.fw_utilities import explicit_serialize
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    StringConstraints,
    ValidationError,
)

from arsc.errors import ArscInputError
from arsc.outputs import write_text_atomic
from arsc.yamlio import problems, shown

#: Packaged default queue settings and job-script template.
DEFAULT_QUEUE_FILE = "qadapter_slurm.yaml"
TEMPLATE_FILE = "slurm_template.txt"
#: Exit code of the job script when its environment set-up fails.
SETUP_EXIT = 3

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_MODULE = r"^[A-Za-z0-9][A-Za-z0-9_.+/-]{0,127}$"
_CONSTRAINT = r"^[A-Za-z0-9_.,&|:*\[\]-]{1,128}$"
_WALLTIME = r"^(\d{1,3}-)?\d{1,3}(:\d{2}){0,2}$"
_MEM = r"^\d{1,9}[KMGT]?$"
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]{0,127}$"


def _no_control(value: str) -> str:
    if not value or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must be non-empty and free of control characters (newline, tab, NUL)")
    return value


def _absolute(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError("must be an absolute path")
    return value


def _conda_env(value: str) -> str:
    if re.match(_NAME, value) or value.startswith("/"):
        return _no_control(value)
    raise ValueError(f"must be an environment name ({ALLOWED[_NAME]}) or an absolute path")


#: A name on an ``#SBATCH`` line or in a command (partition, account, job name...).
Name = Annotated[str, StringConstraints(pattern=_NAME)]
ModuleName = Annotated[str, StringConstraints(pattern=_MODULE)]
Constraint = Annotated[str, StringConstraints(pattern=_CONSTRAINT)]
Walltime = Annotated[str, StringConstraints(pattern=_WALLTIME)]
Memory = Annotated[str, StringConstraints(pattern=_MEM)]
EnvName = Annotated[str, StringConstraints(pattern=_ENV_NAME)]
#: Free text that is shell-quoted (environment values): no control characters.
Text = Annotated[str, StringConstraints(max_length=4096), AfterValidator(_no_control)]
#: An absolute path, shell-quoted: no control characters.
AbsPath = Annotated[Text, AfterValidator(_absolute)]
#: A conda environment: a name or an absolute prefix path.
CondaEnv = Annotated[Text, AfterValidator(_conda_env)]

#: What each pattern allows, for the one-line error messages.
ALLOWED = {
    _NAME: "letters, digits, '_', '.', '-' (first a letter or digit; at most 64)",
    _MODULE: "letters, digits, '_', '.', '+', '/', '-' (first a letter or digit)",
    _CONSTRAINT: "letters, digits and _ . , & | : * [ ] -",
    _WALLTIME: "[D-]HH:MM:SS, MM:SS or minutes",
    _MEM: "an integer with an optional K, M, G or T suffix",
    _ENV_NAME: "a shell variable name (letters, digits, '_')",
}


class QueueSettings(BaseModel):
    """Where and how the worker jobs run on SLURM (``qadapter_slurm.yaml``)."""

    model_config = ConfigDict(extra="forbid")

    partition: Name | None = Field(None, description="SLURM partition (--partition)")
    account: Name | None = Field(None, description="Account charged (--account)")
    qos: Name | None = Field(None, description="Quality of service (--qos)")
    constraint: Constraint | None = Field(None, description="Node features (--constraint)")
    nodes: PositiveInt = Field(1, description="Nodes per worker job, count")
    ntasks: PositiveInt = Field(1, description="Tasks (MPI ranks) per worker job, count")
    cpus_per_task: PositiveInt = Field(1, description="Cores per task, count")
    walltime: Walltime = Field("04:00:00", description="Time limit per worker job, [D-]HH:MM:SS")
    mem: Memory | None = Field(None, description="Memory per node, MB or with a K/M/G/T suffix")
    job_name: Name = Field("arsc", description="Job name of the worker jobs")
    module_purge: bool = Field(False, description="Run `module purge` before loading modules")
    modules: list[ModuleName] = Field(
        default_factory=list, description="Environment modules to load, in order"
    )
    conda_env: CondaEnv | None = Field(
        None, description="Conda environment to activate: a name or an absolute prefix path"
    )
    venv: AbsPath | None = Field(None, description="Python virtualenv to activate, absolute path")
    source: list[AbsPath] = Field(
        default_factory=list, description="Shell files to source before the worker (absolute)"
    )
    env: dict[EnvName, Text] = Field(
        default_factory=dict, description="Environment variables exported before the worker"
    )
    python: AbsPath | None = Field(
        None, description="Python of the worker; default <venv>/bin/python or this Python"
    )
    sequential: bool = Field(
        False, description="One worker job at a time (SLURM dependency singleton)"
    )
    ping_seconds: PositiveInt = Field(
        600, description="Seconds between a running job's pings to the LaunchPad"
    )
    max_launches: NonNegativeInt = Field(
        0, description="Fireworks per worker job before it exits, count (0: until none ready)"
    )

    def worker_python(self) -> str:
        """Return the Python that runs the worker."""
        if self.python:
            return self.python
        if self.venv:
            return f"{self.venv.rstrip('/')}/bin/python"
        return sys.executable

    def preamble(self) -> str:
        """Return the environment set-up lines (modules, conda, venv, sources, exports), quoted.

        Every step exits the job with code :data:`SETUP_EXIT` when it fails, so
        a worker never starts in a half-made environment.
        """
        q = shlex.quote
        steps: list[str] = []
        if self.module_purge:
            steps.append("module purge")
        steps += [f"module load {q(m)}" for m in self.modules]
        if self.conda_env:
            steps.append('eval "$(conda shell.bash hook)"')
            steps.append(f"conda activate {q(self.conda_env)}")
        if self.venv:
            steps.append(f". {q(self.venv.rstrip('/') + '/bin/activate')}")
        steps += [f". {q(path)}" for path in self.source]
        steps += [f"export {name}={q(value)}" for name, value in self.env.items()]
        return "\n".join(f"{s} || exit {SETUP_EXIT}" for s in steps)

    def worker_command(self, launchpad: str) -> str:
        """Return the quoted command that runs the worker against ``launchpad``."""
        args = [self.worker_python(), "-m", "workflows.executors.fw_worker"]
        args += ["--launchpad", launchpad, "--ping", str(self.ping_seconds)]
        if self.max_launches:
            args += ["--max-launches", str(self.max_launches)]
        return shlex.join(args)

    def sbatch_fields(self) -> dict[str, str]:
        """Return the values of the template's ``#SBATCH`` lines (unset ones left out)."""
        fields = {
            "nodes": self.nodes,
            "ntasks": self.ntasks,
            "cpus_per_task": self.cpus_per_task,
            "walltime": self.walltime,
            "queue": self.partition,
            "account": self.account,
            "qos": self.qos,
            "constraint": self.constraint,
            "mem": self.mem,
            "job_name": self.job_name,
            "dependency": "singleton" if self.sequential else None,
        }
        return {k: str(v) for k, v in fields.items() if v is not None}


def _one_line(exc: ValidationError, source: str) -> str:
    """Return the first problem (:func:`arsc.yamlio.problems`): key, value, source and the rule."""
    first = problems(exc, QueueSettings, ALLOWED)[0]
    key = first.key or "settings"
    if first.kind == "extra_forbidden":
        allowed = ", ".join(first.allowed)
        return f"unknown queue setting {key!r} in {source}; allowed: {allowed}"
    return f"bad queue setting {key} = {shown(first.value)} in {source}: {first.what}"


def queue_settings(data: dict[str, Any], source: str) -> QueueSettings:
    """Validate queue settings, raising a one-line error naming the key, the value and the source.

    Raises
    ------
    ArscInputError
        Unknown key or a value that does not match its pattern.
    """
    try:
        return QueueSettings.model_validate(data)
    except ValidationError as exc:
        raise ArscInputError(_one_line(exc, source)) from None


def load_queue_settings(
    path: str | Path | None = None, overrides: dict[str, Any] | None = None
) -> QueueSettings:
    """Read queue settings from YAML (default the packaged file), then apply ``overrides``.

    Parameters
    ----------
    path
        Queue settings file (``arsc submit --qadapter``); None for the packaged one.
    overrides
        Values from the command line; None values are ignored.

    Raises
    ------
    ArscInputError
        Missing or malformed file, unknown key or bad value (one line).
    """
    if path is None:
        text = files("workflows.data").joinpath(DEFAULT_QUEUE_FILE).read_text()
        source = f"the packaged {DEFAULT_QUEUE_FILE}"
    else:
        p = Path(path)
        if not p.is_file():
            raise ArscInputError(f"queue settings file {str(p)!r} not found; pass --qadapter FILE")
        text, source = p.read_text(), f"queue settings file {str(p)!r}"
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        msg = " ".join(str(exc).split())
        raise ArscInputError(f"malformed {source}: {msg}") from None
    if not isinstance(data, dict):
        raise ArscInputError(f"malformed {source}: expected a mapping of settings")
    queue_settings(data, source)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    return queue_settings({**data, **given}, "the command line" if given else source)


def template_path() -> str:
    """Return the packaged SLURM job-script template."""
    return str(files("workflows.data").joinpath(TEMPLATE_FILE))


class _Template(string.Template):
    delimiter = "$$"


#: Adapter keys that are not queue settings.
_ADAPTER_KEYS = ("launchpad", "rocket_launch", "logdir")


@explicit_serialize
class ArscSlurmAdapter(CommonAdapter):
    """FireWorks SLURM queue adapter that renders only validated, quoted values.

    Its items are :class:`QueueSettings` fields plus ``launchpad`` (the
    LaunchPad file the worker opens) and ``rocket_launch`` (the worker command,
    kept for FireWorks' own checks; the script always uses the command
    rendered from the validated settings). It serialises like any FireWorks
    adapter, so a file written by :func:`write_qadapter` also works with
    ``qlaunch -q FILE``.
    """

    def settings(self) -> QueueSettings:
        """Validate the adapter's current items as queue settings."""
        data = {k: v for k, v in self.items() if k not in _ADAPTER_KEYS}
        return queue_settings(data, "the queue adapter")

    def launchpad_file(self) -> str:
        """Return the validated LaunchPad path of the worker."""
        lp = self.get("launchpad")
        try:
            return _absolute(_no_control(str(lp or "")))
        except ValueError as exc:
            raise ArscInputError(f"bad LaunchPad path {lp!r} for the worker: {exc}") from None

    def get_script_str(self, launch_dir: str) -> str:
        """Render the job script for ``launch_dir`` (all values validated and quoted).

        Raises
        ------
        ArscInputError
            A value that fails validation (one line naming it).
        """
        settings = self.settings()
        try:
            folder = _no_control(str(Path(launch_dir).absolute()))
        except ValueError as exc:
            raise ArscInputError(f"bad launch folder {launch_dir!r}: {exc}") from None
        subs = {
            **settings.sbatch_fields(),
            "pre_rocket": settings.preamble() or None,
            "launch_dir": shlex.quote(folder),
            "rocket_launch": settings.worker_command(self.launchpad_file()),
        }
        template = _Template(Path(self.template_file).read_text())
        rendered = template.safe_substitute({k: v for k, v in subs.items() if v is not None})
        lines = [line for line in rendered.split("\n") if "$${" not in line]
        return "\n".join(lines).rstrip("\n") + "\n"


def make_adapter(settings: QueueSettings, launchpad: str | Path) -> ArscSlurmAdapter:
    """Build the SLURM adapter of ``settings`` for workers opening ``launchpad``."""
    lp = str(Path(launchpad).absolute())
    return ArscSlurmAdapter(
        q_type="SLURM",
        template_file=template_path(),
        launchpad=lp,
        rocket_launch=settings.worker_command(lp),
        **settings.model_dump(),
    )


def write_qadapter(adapter: ArscSlurmAdapter, path: str | Path) -> Path:
    """Write the adapter as a FireWorks queue-adapter YAML (for ``qlaunch -q FILE``)."""
    return write_text_atomic(path, yaml.safe_dump(adapter.to_dict(), sort_keys=False))
