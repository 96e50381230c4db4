"""Reads the secret lists (robot-tests/secrets/README.md's format) from the
folders given and prints what scripts/test.sh scans for, a line each:

- ``literal VALUE`` for a fixed string searched in logs and /metrics,
- ``code REGEX`` for a code, matched as a value would be logged,
- ``served VALUE`` / ``anywhere VALUE`` for scan-output.py's two rules.

A ``basic USER:PASSWORD`` line becomes its base64 form, scanned as
``anywhere``. An unknown kind fails the run, so a typo cannot silently
drop a secret from the scan.
"""

import base64
import sys
from pathlib import Path


def entries(folder):
    for path in sorted(Path(folder).glob("*.txt")):
        for number, line in enumerate(path.read_text().splitlines(), 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            kind, _, value = line.partition(" ")
            if not value:
                sys.exit(f"{path}:{number}: expected 'KIND VALUE'")
            yield path, number, kind, value


def main():
    out = set()
    for folder in sys.argv[1:]:
        for path, number, kind, value in entries(folder):
            if kind == "basic":
                kind, value = "anywhere", base64.b64encode(value.encode()).decode()
            if kind in ("served", "anywhere"):
                out.add(f"literal {value}")
                out.add(f"{kind} {value}")
            elif kind == "code":
                if not value.isalnum():
                    sys.exit(f"{path}:{number}: a code is letters and digits")
                out.add("code [\"'> ]" + value + "[\"'< ]")
            else:
                sys.exit(f"{path}:{number}: unknown kind {kind!r} (served, anywhere, basic, code)")
    print("\n".join(sorted(out)))


if __name__ == "__main__":
    main()
