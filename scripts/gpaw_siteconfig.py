"""GPAW build configuration used by scripts/install.sh (GPAW_CONFIG points here)."""

# GPAW build configuration used by scripts/install.sh (GPAW_CONFIG points here).
# Measured on Debian 12 (see shared notes, platform.md): GPAW compiles its C
# sources with g++, no MPI, FFTW and OpenBLAS from Debian packages
# (libxc-dev libopenblas-dev liblapack-dev libfftw3-dev).
compiler = "g++"
mpi = False
fftw = True
libraries += ["fftw3", "blas"]  # noqa: F821
