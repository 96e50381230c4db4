#!/usr/bin/env python3
"""Runs every fenced ``sh`` and ``robotframework`` block of README.md against
the built binary, and checks the README's keyword table against the registry.

Usage: readme-doctest.py [--bin PATH] [--readme README.md] [--results DIR]
       readme-doctest.py --write-keywords   (regenerates the keyword table)

The blocks run in order, as a reader following along would, in one scratch
directory that is also HOME, with ``rpa-mfa`` first on PATH, RPA_SECRET_FILE
naming ``secrets.json`` there, and a server this script started
(``127.0.0.1:8270`` in a block is rewritten to its port). How to write a
block that runs, and how to mark one that cannot: CONTRIBUTING.md.
"""

import argparse
import os
import re
import shlex
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN_LANGS = {"sh": "sh", "bash": "sh", "shell": "sh", "console": "sh",
             "robotframework": "robot", "robot": "robot"}
SKIP = re.compile(r"<!--\s*doc-test:\s*skip\s+(?P<reason>.+?)\s*-->")
# The only reasons a block may be left out.
ALLOWED_REASONS = ("reaches a host outside loopback", "needs systemd", "never ends")
TWIN = re.compile(r'twin:\s*(?P<file>\S+)\s+"(?P<test>[^"]+)"')
PLACEHOLDER = "127.0.0.1:8270"
KEYWORDS_BEGIN, KEYWORDS_END = "<!-- keywords:begin -->", "<!-- keywords:end -->"


class Block:
    def __init__(self, lang, line, text, skip):
        self.lang, self.line, self.text, self.skip = lang, line, text, skip


def blocks(readme_text):
    """Every fenced block, with the skip marker on the line before it, if any."""
    lines = readme_text.splitlines()
    out, i = [], 0
    while i < len(lines):
        fence = re.match(r"^```(\S*)\s*$", lines[i])
        if not fence:
            i += 1
            continue
        start = i
        prev = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
        skip = SKIP.search(prev)
        i += 1
        body = []
        while i < len(lines) and lines[i].strip() != "```":
            body.append(lines[i])
            i += 1
        out.append(Block(fence.group(1), start + 1, "\n".join(body) + "\n",
                         skip.group("reason") if skip else None))
        i += 1
    return out


# --- the keyword table -------------------------------------------------------

def keyword_table(binary):
    """The README table, rendered from the registry: `rpa-mfa keywords` gives
    the order and libdoc-style signatures, `--json` (get_library_information)
    the set of names they must match."""
    text = subprocess.run([binary, "keywords"], capture_output=True, text=True, check=True).stdout
    import json
    info = json.loads(subprocess.run([binary, "keywords", "--json"], capture_output=True,
                                     text=True, check=True).stdout)
    rows = []
    for line in text.splitlines():
        m = re.match(r"^(\S.*?)\((.*)\) -> (.+)$", line)
        if m:
            rows.append(m.groups())
    names = {r[0] for r in rows}
    registry = {n for n in info if not n.startswith("__")}
    if names != registry:
        raise SystemExit(f"`rpa-mfa keywords` and --json disagree: {sorted(names ^ registry)}")
    cell = lambda s: f"`{s}`".replace("|", "\\|") if s else ""
    table = ["| keyword | arguments | returns |", "|---|---|---|"]
    table += [f"| {name} | {cell(args)} | {cell(ret)} |".replace("|  |", "| |")
              for name, args, ret in rows]
    return "\n".join(table)


def check_keywords(readme_text, binary, write, readme_path):
    begin, end = readme_text.index(KEYWORDS_BEGIN), readme_text.index(KEYWORDS_END)
    current = readme_text[begin + len(KEYWORDS_BEGIN):end].strip()
    expected = keyword_table(binary)
    if current == expected:
        return True
    if write:
        readme_path.write_text(readme_text[:begin + len(KEYWORDS_BEGIN)] + "\n" + expected
                               + "\n" + readme_text[end:])
        print(f"rewrote the keyword table of {readme_path}")
        return True
    import difflib
    print("README's keyword table differs from the registry "
          "(scripts/readme-doctest.py --write-keywords regenerates it):")
    sys.stdout.writelines(difflib.unified_diff(current.splitlines(True), expected.splitlines(True),
                                               "README.md", "rpa-mfa keywords"))
    print()
    return False


# --- running blocks ----------------------------------------------------------

EXPECT = re.compile(r"^(?P<cmd>\S.*?)\s+# => (?P<want>.*)$")
PRELUDE = r"""
__expect() {  # __expect WANT COMMAND: COMMAND must print exactly WANT
  local got
  got=$(eval "$2")
  if [ "$got" != "$1" ]; then
    printf '%s\n  printed:  %s\n  expected: %s\n' "$2" "$got" "$1" >&2
    return 1
  fi
}
"""


def shell_script(text):
    """The block as a bash script, each `cmd  # => WANT` line checked."""
    out = []
    for line in text.splitlines():
        m = EXPECT.match(line)
        out.append(f"__expect {shlex.quote(m['want'].strip())} {shlex.quote(m['cmd'])}" if m else line)
    return "set -euo pipefail\n" + PRELUDE + "\n".join(out) + "\n"


def robot_suite(text):
    """A block with sections runs as is; keyword calls alone become one test."""
    if re.search(r"^\*\*\*", text, re.M):
        return text
    body = "\n".join("    " + l if l.strip() else l for l in text.splitlines())
    return (f"*** Settings ***\nLibrary    Remote    http://{PLACEHOLDER}\n\n"
            f"*** Test Cases ***\nREADME Block\n{body}\n")


class Server:
    def __init__(self, binary, work, env, log_path):
        self.log = open(log_path, "w")
        self.process = subprocess.Popen(
            [binary, "serve", "--port", "0", "--port-file", str(work / ".port"),
             "--vault", f"file:{work / 'secrets.json'}"],
            stdout=subprocess.PIPE, stderr=self.log, env=env, cwd=work, text=True)
        ready = self.process.stdout.readline()
        if "started." not in ready:
            raise SystemExit(f"the doc-test's server did not start: {Path(log_path).read_text()}")
        self.port = int((work / ".port").read_text())

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.communicate(timeout=30)
        self.log.close()


def twin_exists(reason):
    m = TWIN.search(reason)
    if not m:
        return None
    path = ROOT / m["file"]
    if not path.is_file():
        return False
    return re.search(rf"^{re.escape(m['test'])}\s*$", path.read_text(), re.M) is not None


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default=str(ROOT / "target" / "debug" / "rpa-mfa"))
    parser.add_argument("--readme", default=str(ROOT / "README.md"))
    parser.add_argument("--results", default=str(ROOT / "target" / "robot-results" / "readme"))
    parser.add_argument("--write-keywords", action="store_true")
    args = parser.parse_args()
    binary = str(Path(args.bin).resolve())
    readme_path = Path(args.readme)
    readme = readme_path.read_text()
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)

    passed = failed = skipped = 0
    if check_keywords(readme, binary, args.write_keywords, readme_path):
        print("ok    keyword table = rpa-mfa keywords")
        passed += 1
    else:
        failed += 1
    if args.write_keywords:
        return 0

    with tempfile.TemporaryDirectory(prefix="readme-doctest-") as tmp:
        work = Path(tmp)
        (work / "secrets.json").write_text("{}\n")
        env = dict(os.environ)
        for name in ("RPA_MFA_VAULT", "RPA_MFA_CONFIG", "RPA_MFA_PORT", "RPA_MFA_LOG"):
            env.pop(name, None)
        env.update({
            "HOME": str(work), "XDG_DATA_HOME": str(work / ".local" / "share"),
            "PATH": f"{Path(binary).parent}{os.pathsep}{env['PATH']}",
            "RPA_SECRET_FILE": str(work / "secrets.json"), "RPA_MFA_BIN": binary,
            # rpa_mfa.MFA from the source tree (the wheel test installs it for real).
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT / "python"), env.get("PYTHONPATH")])),
        })
        server = Server(binary, work, env, results / "server.log")
        try:
            for n, block in enumerate(blocks(readme), 1):
                kind = RUN_LANGS.get(block.lang)
                where = f"README.md:{block.line} ({block.lang})"
                if kind is None:
                    continue
                if block.skip:
                    if not block.skip.startswith(ALLOWED_REASONS):
                        print(f"FAIL  {where}: skip reason must start with one of {ALLOWED_REASONS}")
                        failed += 1
                        continue
                    twin = twin_exists(block.skip)
                    if kind == "robot" and "outside loopback" in block.skip and not twin:
                        print(f"FAIL  {where}: an example for an outside host needs a twin that "
                              f"exists (twin: FILE \"Test Name\"): {block.skip}")
                        failed += 1
                        continue
                    print(f"skip  {where}: {block.skip}")
                    skipped += 1
                    continue
                text = block.text.replace(PLACEHOLDER, f"127.0.0.1:{server.port}")
                if kind == "sh":
                    result = subprocess.run(["bash", "-c", shell_script(text)], cwd=work, env=env,
                                            capture_output=True, text=True, timeout=120)
                else:
                    suite = work / f"readme_block_{block.line}.robot"
                    suite.write_text(robot_suite(text))
                    result = subprocess.run(
                        [sys.executable, "-m", "robot", "--outputdir", str(results),
                         "--output", f"block-{block.line}.xml", "--log", "NONE", "--report", "NONE",
                         "--consolecolors", "off", "--name", f"README line {block.line}", str(suite)],
                        cwd=work, env=env, capture_output=True, text=True, timeout=300)
                if result.returncode == 0:
                    print(f"ok    {where}")
                    passed += 1
                else:
                    print(f"FAIL  {where}: exit {result.returncode}\n{result.stdout}{result.stderr}")
                    failed += 1
        finally:
            server.stop()
    print(f"readme-doctest: {passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
