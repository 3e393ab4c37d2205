import yaml
from fireworks import LaunchPad

from tests.paths import ROOT

ROOT = ROOT


def test_launchpad_yaml_is_a_valid_production_launchpad_without_connecting():
    """Parse launchpad.yaml into a FireWorks LaunchPad; pymongo connects lazily, no server."""
    data = yaml.safe_load((ROOT / "launchpad.yaml").read_text())
    assert data["name"] and data["port"] == 27017
    lp = LaunchPad.from_file(str(ROOT / "launchpad.yaml"))
    assert (lp.host, lp.port, lp.name) == (data["host"], data["port"], data["name"])
