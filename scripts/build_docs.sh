#!/usr/bin/env bash
# Build the documentation site with `mkdocs build --strict`: a broken link, a
# missing page or anchor, a docstring mkdocstrings cannot render, or a
# tutorial cell that raises fails the build (exit code != 0). The tutorials
# (docs/tutorials/*.ipynb) are executed, so the build takes minutes.
#
#   bash scripts/build_docs.sh [SITE_DIR]      # default: site/
#
# Needs the docs extras: .venv/bin/pip install -e ".[docs]"
# (ARSC_VENV=path to use another venv, as scripts/install.sh does).
set -euo pipefail
SITE_DIR="$(realpath -m "${1:-$(dirname "${BASH_SOURCE[0]}")/../site}")"  # before the cd below
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="$(realpath -m "${ARSC_VENV:-.venv}")"

# The build empties SITE_DIR first: refuse a folder that is not an earlier build.
if [ -e "$SITE_DIR" ] && [ -n "$(ls -A "$SITE_DIR" 2>/dev/null)" ] \
  && [ ! -f "$SITE_DIR/search/search_index.json" ]; then
  echo "build_docs: $SITE_DIR is not empty and holds no earlier build of this site; give a new or empty folder" >&2
  exit 2
fi

if ! "$VENV/bin/python" -c "import mkdocs, material, mkdocstrings, mkdocs_jupyter, mkdocs_gen_files" 2>/dev/null; then
  echo "build_docs: the docs extras are missing; install them: $VENV/bin/pip install -e '.[docs]'" >&2
  exit 2
fi

# The tutorials write their files into temporary folders: here, one folder the
# build removes when it ends. tqdm (imported by maggma) warns in a notebook kernel
# that ipywidgets is missing; its bars are not used here. The notices of Material
# and MkDocs about their own futures are not about this site.
TUTORIAL_TMP="$(mktemp -d -t arsc-docs-XXXXXX)"
trap 'rm -rf "$TUTORIAL_TMP"' EXIT
export TMPDIR="$TUTORIAL_TMP" PYTHONWARNINGS="ignore:IProgress not found"
export NO_MKDOCS_2_WARNING=1 DISABLE_MKDOCS_2_WARNING=true
export PATH="$VENV/bin:$PATH"  # the notebooks' kernel is this venv's Python

start=$(date +%s)
"$VENV/bin/python" -m mkdocs build --strict --clean --site-dir "$SITE_DIR"
end=$(date +%s)
pages=$(find "$SITE_DIR" -name '*.html' ! -name '404.html' | wc -l)
echo "build_docs: built $pages pages into $SITE_DIR in $((end - start)) s"
