"""Secrets that only exist at run time (tokens a peer issued, AppRole
secret ids), recorded for scripts/test.sh's secret scan.

They go to ``${OUTPUT DIR}/secrets/run-PID.txt`` in the format of
robot-tests/secrets/README.md (``KIND VALUE`` per line), one file per Robot
process so that suites run side by side never interleave a line.
"""

import os
import tempfile
from pathlib import Path

from robot.libraries.BuiltIn import BuiltIn

KINDS = ("served", "anywhere", "basic", "code")


def remember(kind, *values):
    """Appends each non-empty value as a secret of ``kind``."""
    if kind not in KINDS:
        raise ValueError(f"unknown secret kind {kind!r}")
    try:
        out = Path(BuiltIn().get_variable_value("${OUTPUT DIR}"))
    except Exception:  # outside a Robot run (a helper's own check)
        out = Path(tempfile.gettempdir())
    folder = out / "secrets"
    folder.mkdir(exist_ok=True)
    with open(folder / f"run-{os.getpid()}.txt", "a") as f:
        for value in values:
            if value:
                if "\n" in value or value != value.strip():
                    raise ValueError("a secret to remember must be one line without outer spaces")
                f.write(f"{kind} {value}\n")
