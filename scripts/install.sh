#!/usr/bin/env bash
# Install ARSC-DAC with everything it needs into ./.venv on a fresh Debian
# machine: Debian packages (GPAW's libraries), the package with its test
# extras, and GPAW itself (built from source against Debian's libxc, FFTW and
# OpenBLAS; its PAW setups come from the gpaw-data wheel). Idempotent: a
# second run only checks that everything is there.
#
#   bash scripts/install.sh            # ARSC_VENV=path to use another venv
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${ARSC_VENV:-.venv}"
# chromium: renders the campaign report in tests (scripts/screenshot_report.sh)
APT_PACKAGES=(libxc-dev libopenblas-dev liblapack-dev libfftw3-dev pkg-config chromium)

log() { printf '[install] %s\n' "$*"; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  log "apt packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x "$VENV/bin/python" ]; then
  log "virtual environment $VENV"
  python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
# pip, without the machine configuration's notes about absent local indexes
pip_install() { "$PY" -m pip install -q "$@" 2> >(grep -v "is ignored: it is neither" >&2); }
pip_install --upgrade pip
log "arsc-dac and its test extras"
pip_install -e ".[test,docs]"

if ! "$PY" -c "import gpaw, gpaw_data" 2>/dev/null; then
  log "GPAW (compiles for about 70 s)"
  GPAW_CONFIG="$PWD/scripts/gpaw_siteconfig.py" pip_install "gpaw>=24.1" "gpaw-data>=1.0"
fi

# MLIP pre-relaxation (extra "mlip"): the CPU torch first, pinned and on its
# own, so that resolving chgnet cannot pull a CUDA build (platform.md).
if ! "$PY" -c "import torch, chgnet" 2>/dev/null; then
  log "MLIP extra: torch 2.13.0 (CPU), then chgnet"
  pip_install "torch==2.13.0"
  pip_install -e ".[mlip]"
fi
log "done: $("$VENV/bin/arsc" --version), gpaw $("$PY" -c 'import gpaw; print(gpaw.__version__)')"
