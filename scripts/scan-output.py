"""Scans Robot's output.xml for secrets.

Usage: scan-output.py OUTPUT_XML KEYWORDS_JSON --list FILE

FILE is scripts/secret-list.py's output; its ``anywhere VALUE`` and
``served VALUE`` lines are the two rules below.

``anywhere`` strings (passwords, tokens) may appear nowhere in the file.
``served`` strings (OTP secrets) may not appear in what the server said:
the messages and status texts of the keywords run on rpa-mfa (names from
``rpa-mfa keywords --json``). They may appear elsewhere, because the
suites pass them to keywords as test data and Robot records arguments.
Keywords tagged ``returns-secret`` (Get Secret) must have kept no message
at all: Robot's ``${x} = value`` line is their return value, and
scripts/test.sh removes it (``rebot --removekeywords tag:returns-secret``).
Prints each finding and exits 1 if there is any.
"""

import argparse
import json
import sys
from pathlib import Path

from robot.api import ExecutionResult, ResultVisitor


RETURNS_SECRET = "returns-secret"
# What rebot leaves in a keyword whose content it removed.
REMOVED_NOTE = "Content removed using the --remove-keywords option."


class ServedTexts(ResultVisitor):
    def __init__(self, names):
        self.names = names
        self.texts = []
        self.kept_secret_lines = []

    def start_keyword(self, kw):
        if RETURNS_SECRET in kw.tags:
            for item in kw.body:
                if getattr(item, "type", None) == "MESSAGE" and item.message != REMOVED_NOTE:
                    self.kept_secret_lines.append(kw.name)
        if kw.name in self.names:
            self.texts.append((kw.name, kw.message or ""))
            for item in kw.body:
                if getattr(item, "type", None) == "MESSAGE":
                    self.texts.append((kw.name, item.message))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("output")
    parser.add_argument("keywords")
    parser.add_argument("--list", required=True)
    args = parser.parse_args()
    args.anywhere, args.served = [], []
    for line in Path(args.list).read_text().splitlines():
        kind, _, value = line.partition(" ")
        if kind in ("anywhere", "served"):
            getattr(args, kind).append(value)

    raw = Path(args.output).read_text()
    found = [f"{args.output}: contains {s[:4]}..." for s in args.anywhere if s in raw]

    names = {n for n in json.loads(Path(args.keywords).read_text()) if not n.startswith("__")}
    visitor = ServedTexts(names)
    ExecutionResult(args.output).visit(visitor)
    for name, text in visitor.texts:
        for s in args.served + args.anywhere:
            if s in text:
                found.append(f"{args.output}: '{name}' said {s[:4]}...")
    for name in visitor.kept_secret_lines:
        found.append(f"{args.output}: '{name}' (tagged {RETURNS_SECRET}) kept a logged line")
    for line in found:
        print(line)
    print(f"output.xml: {len(visitor.texts)} texts of rpa-mfa keywords scanned")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
