"""Queue settings and SLURM job scripts: validation, quoting, injected text never runs."""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import pytest
from fireworks.utilities.fw_serializers import load_object_from_file

from arsc.errors import ArscInputError
from workflows.executors.queue import (
    QueueSettings,
    load_queue_settings,
    make_adapter,
    write_qadapter,
)

#: Hostile values: quotes, `;`, command substitution (both forms), a newline.
HOSTILE = [
    'x"; touch PWNED; echo "',
    "x'; touch PWNED; echo '",
    "$(touch PWNED)",
    "`touch PWNED`",
    "x\ntouch PWNED",
    "x; touch PWNED",
]
#: Settings whose values are names (on #SBATCH lines or in commands).
NAME_FIELDS = ["partition", "account", "qos", "job_name", "walltime", "mem", "constraint"]


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("key", NAME_FIELDS)
def test_hostile_name_is_rejected_with_a_one_line_error_naming_key_and_value(key, value):
    with pytest.raises(ArscInputError) as err:
        load_queue_settings(None, {key: value})
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"bad queue setting {key} = {value!r}")


@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_module_or_conda_name_is_rejected(value):
    with pytest.raises(ArscInputError, match=r"^bad queue setting modules\.0 = "):
        load_queue_settings(None, {"modules": [value]})
    with pytest.raises(ArscInputError, match=r"^bad queue setting conda_env = "):
        load_queue_settings(None, {"conda_env": value})


@pytest.mark.parametrize("key", ["venv", "python"])
def test_paths_with_newlines_or_relative_are_rejected(key):
    with pytest.raises(ArscInputError, match="free of control characters"):
        load_queue_settings(None, {key: "/opt/x\ntouch /tmp/PWNED"})
    with pytest.raises(ArscInputError, match="absolute path"):
        load_queue_settings(None, {key: "envs/arsc"})
    with pytest.raises(ArscInputError, match="free of control characters"):
        load_queue_settings(None, {"env": {"A": "1\ntouch /tmp/PWNED"}})
    with pytest.raises(ArscInputError, match=r"env\.A B = 'A B'.*shell variable name"):
        load_queue_settings(None, {"env": {"A B": "1"}})


def test_unknown_key_and_bad_file_are_one_line_errors(tmp_path):
    with pytest.raises(ArscInputError, match=r"unknown queue setting 'pre_rocket'.*allowed: part"):
        load_queue_settings(None, {"pre_rocket": "rm -rf ~"})
    bad = tmp_path / "q.yaml"
    bad.write_text("partition: [unclosed\n")
    with pytest.raises(ArscInputError, match="malformed queue settings file"):
        load_queue_settings(bad)
    with pytest.raises(ArscInputError, match="not found; pass --qadapter"):
        load_queue_settings(tmp_path / "none.yaml")


def test_adapter_revalidates_values_changed_after_loading(tmp_path):
    """A value set on the adapter afterwards (e.g. FireWorks' _queueadapter spec) is checked too."""
    adapter = make_adapter(QueueSettings(), tmp_path / "lp.yaml")
    adapter["partition"] = "$(touch PWNED)"
    with pytest.raises(ArscInputError, match="bad queue setting partition"):
        adapter.get_script_str(str(tmp_path))
    adapter["partition"] = "debug"
    with pytest.raises(ArscInputError, match="bad launch folder"):
        adapter.get_script_str(str(tmp_path / "a\nb"))


def test_packaged_settings_render_the_expected_sbatch_lines(tmp_path):
    settings = load_queue_settings(None, {"account": "chem-42", "sequential": True})
    script = make_adapter(settings, tmp_path / "lp.yaml").get_script_str(str(tmp_path))
    lines = script.splitlines()
    for line in [
        "#SBATCH --partition=debug",
        "#SBATCH --account=chem-42",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --time=04:00:00",
        "#SBATCH --job-name=arsc",
        "#SBATCH --dependency=singleton",
    ]:
        assert line in lines
    assert not any(line.startswith(("#SBATCH --qos", "#SBATCH --mem")) for line in lines)
    assert "workflows.executors.fw_worker --launchpad" in script
    assert "--ping 600" in script  # the DFT ping interval by default


def test_qadapter_file_for_qlaunch_loads_back_into_the_same_adapter(tmp_path):
    settings = QueueSettings(partition="gpu", modules=["GPAW/24.1.0-foss-2023a"], ping_seconds=300)
    adapter = make_adapter(settings, tmp_path / "lp.yaml")
    path = write_qadapter(adapter, tmp_path / "my_qadapter.yaml")
    loaded = load_object_from_file(str(path))  # what `qlaunch -q my_qadapter.yaml` does
    assert type(loaded) is type(adapter)
    assert loaded.get_script_str(str(tmp_path)) == adapter.get_script_str(str(tmp_path))


# --- the rendered script, run for real in a sandbox ---------------------------------


def _fake_tools(bin_dir: Path) -> None:
    """`module`, `conda` and the worker's Python as scripts that print their arguments."""
    bin_dir.mkdir()
    for name in ("module", "conda", "python"):
        tool = bin_dir / name
        hook = '[ "$1" = shell.bash ] && exit 0\n' if name == "conda" else ""  # nothing to eval
        echo = f'for a in "$@"; do printf \'{name}-arg:%s\\n\' "$a"; done\n'
        tool.write_text(f"#!/bin/sh\n{hook}{echo}")
        tool.chmod(0o755)


def test_script_from_hostile_paths_that_pass_validation_runs_no_injected_command(tmp_path):
    """Paths and values may contain quotes, `;`, `$()` and backticks; quoting keeps them inert.

    The rendered job script is checked with `bash -n`, then run with bash in a
    sandbox (fake `module`, `conda` and Python that echo their arguments):
    no marker file appears anywhere, and every value arrives verbatim.
    """
    sandbox = tmp_path / "sandbox"
    sandbox.mkdir()
    _fake_tools(sandbox / "bin")
    evil = "d\"; touch PWNED1; echo \"$(touch PWNED2)`touch PWNED3`'; touch PWNED4; '"
    venv = sandbox / f"venv {evil}"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "activate").write_text('echo "activated venv"\n')
    (venv / "bin" / "python").symlink_to(sandbox / "bin" / "python")
    launch_dir = sandbox / f"launch {evil}"
    launch_dir.mkdir()
    launchpad = sandbox / f"lp {evil}.yaml"
    settings = QueueSettings(
        partition="debug",
        modules=["gpaw/24.1"],
        conda_env=str(sandbox / f"conda {evil}"),
        venv=str(venv),
        env={"ARSC_NOTE": evil},
    )
    script = make_adapter(settings, launchpad).get_script_str(str(launch_dir))
    (sandbox / "job.sh").write_text(script)
    assert subprocess.run(["bash", "-n", "job.sh"], cwd=sandbox).returncode == 0
    env = {**os.environ, "PATH": f"{sandbox / 'bin'}:{os.environ['PATH']}"}
    script_run = f"{script}\nprintf 'note:%s\\n' \"$ARSC_NOTE\"; printf 'pwd:%s\\n' \"$PWD\"\n"
    (sandbox / "job-with-checks.sh").write_text(script_run)
    run = subprocess.run(
        ["bash", "job-with-checks.sh"], cwd=sandbox, env=env, capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert not [p for p in tmp_path.rglob("PWNED*")]
    assert not list(Path.cwd().glob("PWNED*"))
    out = run.stdout.splitlines()
    assert "module-arg:gpaw/24.1" in out
    assert f"conda-arg:{sandbox / f'conda {evil}'}" in out
    assert "activated venv" in out
    assert f"note:{evil}" in out
    assert f"pwd:{launch_dir}" in out
    assert f"python-arg:{launchpad}" in out
    assert shlex.split(script.splitlines()[-1])[-4:] == [
        "--launchpad",
        str(launchpad),
        "--ping",
        "600",
    ]
