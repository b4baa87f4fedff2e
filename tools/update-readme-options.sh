#!/usr/bin/env bash
# Regenerate the config reference in README.md from the option tables
# (`kpiwatch options`), between the options:begin/end markers.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-./kpiwatch}
ref=$("$bin" options)
/usr/bin/python3 - "$ref" <<'PY'
import sys, re
ref = sys.argv[1]
text = open("README.md").read()
new = re.sub(r"(<!-- options:begin -->\n).*?(<!-- options:end -->)", lambda m: m.group(1) + ref.strip("\n") + "\n" + m.group(2), text, flags=re.S)
open("README.md", "w").write(new)
PY
