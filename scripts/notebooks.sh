#!/usr/bin/env bash
# The notebooks in real Jupyter with the tslab (TypeScript) kernel.
#
#   scripts/notebooks.sh setup   install the kernel (notebooks/package.json, pinned by its lockfile),
#                                link this checkout as notebooks/node_modules/offpolicy (the notebooks
#                                import 'offpolicy' as a user would; it resolves to the built dist/),
#                                and register the kernel with Jupyter for this user
#   scripts/notebooks.sh run [OUT_DIR [NOTEBOOK...]]
#                                execute every notebooks/*.ipynb (or the NOTEBOOKs given) top to bottom
#                                with nbconvert; exits non-zero on the first cell error. Executed copies
#                                go to OUT_DIR (default test-artifacts/notebooks)
#
# Needs Jupyter's nbconvert and jupyter-client (Debian: jupyter-nbconvert, jupyter-client,
# python3-ipykernel) and a built dist/ (`npm install` builds it).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

jupyter_python() {
  # The Python that runs Jupyter (its shebang), so the kernel spec lands where that Jupyter looks.
  local jup
  jup=$(command -v jupyter) || { echo "jupyter is not installed (Debian: apt-get install jupyter-nbconvert jupyter-client python3-ipykernel)" >&2; exit 1; }
  sed -n '1s/^#! *//p' "$jup" | awk '{print $1}'
}

setup() {
  npm ci --prefix notebooks --no-audit --no-fund --loglevel=error
  ln -sfn ../.. notebooks/node_modules/offpolicy
  [ -f dist/index.js ] || npm run build
  notebooks/node_modules/.bin/tslab install --user --python "$(jupyter_python)" --binary "$ROOT/notebooks/node_modules/.bin/tslab"
}

run() {
  export PYDEVD_DISABLE_FILE_VALIDATION=1
  local out=${1:-test-artifacts/notebooks}
  shift || true
  local books=("$@")
  [ ${#books[@]} -gt 0 ] || books=(notebooks/*.ipynb)
  [ -x notebooks/node_modules/.bin/tslab ] && [ -e notebooks/node_modules/offpolicy ] || { echo "run scripts/notebooks.sh setup first" >&2; exit 1; }
  mkdir -p "$out"
  local execute=(jupyter nbconvert --to notebook --execute --ExecutePreprocessor.kernel_name=tslab --ExecutePreprocessor.timeout=600 --output-dir "$out")
  for nb in "${books[@]}"; do
    echo "executing $nb"
    if ! "${execute[@]}" "$nb"; then
      # tslab reports a cell's error on its stderr stream, which nbconvert's failure message leaves out:
      # run the notebook once more keeping errors, and print what each failing cell wrote there.
      "${execute[@]}" --allow-errors --output "failed-$(basename "$nb")" "$nb" >/dev/null 2>&1 || true
      "$(jupyter_python)" - "$out/failed-$(basename "$nb")" <<'PY' >&2 || true
import json, sys
for i, cell in enumerate(json.load(open(sys.argv[1]))['cells'], 1):
    for o in cell.get('outputs', []):
        if o.get('output_type') == 'error' or o.get('name') == 'stderr':
            text = o.get('text') or '\n'.join(o.get('traceback', []))
            print(f'cell {i} wrote to stderr:\n' + (''.join(text) if isinstance(text, list) else text))
PY
      echo "$nb failed" >&2
      return 1
    fi
  done
}

case "${1:-}" in
  setup) setup ;;
  run) shift; run "$@" ;;
  *) echo "usage: scripts/notebooks.sh setup | run [OUT_DIR [NOTEBOOK...]]" >&2; exit 2 ;;
esac
