"""The keyword page in headless Chromium, and what libdoc says it should show.

``Dump Page Dom`` and ``Take Page Screenshot`` run Debian's ``chromium``
(installed by scripts/install-test-deps.sh). ``Entries On Page`` reads the
rendered DOM; ``Entries In Libdoc`` reads Robot's own libdoc JSON of the
running server. Both give, per keyword (and ``__intro__``/``__init__``),
the same shape, so a suite compares them with one keyword: arguments as
libdoc writes them, how each may be given, tags, return type, and the
documentation's text and formatting (code, bold, italic, names, list
items, preformatted blocks, table cells).
"""

import json
import os
import re
import subprocess
import tempfile
from html.parser import HTMLParser

from PIL import Image
from robot.api import logger

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these, Chromium's own connections are refused on this machine
    # and it never gets to the page.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Their boundaries separate words, however the HTML was laid out.
BLOCKS = {"p", "div", "ul", "ol", "li", "pre", "table", "tr", "td", "th", "hr", "br",
          "h1", "h2", "h3", "h4", "h5", "h6", "section", "dl", "dt", "dd"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
        "source", "track", "wbr"}
ARG_KINDS = {"POSITIONAL_OR_NAMED": "positional", "NAMED_ONLY": "named-only",
             "VAR_NAMED": "free named", "POSITIONAL_ONLY": "positional-only",
             "VAR_POSITIONAL": "varargs"}


def _chromium(*args):
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        result = subprocess.run(
            ["chromium", *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True, text=True, timeout=120,
        )
    if result.returncode != 0:
        raise AssertionError(f"chromium failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def dump_page_dom(url, save_as=None):
    """The DOM of ``url`` after Chromium ran its scripts (``--dump-dom``)."""
    dom = _chromium("--dump-dom", url)
    if not dom.strip():
        raise AssertionError("chromium dumped an empty DOM")
    if save_as:
        with open(save_as, "w") as f:
            f.write(dom)
    return dom


def take_page_screenshot(url, path, width=1280, height=2400):
    """Saves a PNG screenshot of ``url`` and checks it is one."""
    _chromium(f"--window-size={width},{height}", f"--screenshot={path}", url)
    with open(path, "rb") as f:
        if f.read(8) != b"\x89PNG\r\n\x1a\n":
            raise AssertionError(f"{path} is not a PNG")
    logger.info(f'<img src="{os.path.basename(path)}" width="640">', html=True)


def screenshot_should_show_the_page(path, width, height, background, text, min_kb=50):
    """Fails unless ``path`` is a valid PNG of ``width`` x ``height`` that
    shows a rendered page: no colour covers most of it (a blank page or
    Chromium's error page is over 99% white), and the page's own
    ``background`` and ``text`` colours (``#rrggbb``) both show, so its
    stylesheet applied and its text was drawn."""
    size_kb = os.path.getsize(path) / 1024
    if size_kb < int(min_kb):
        raise AssertionError(f"{path} holds {size_kb:.0f} kB, less than {min_kb} kB")
    with Image.open(path) as image:
        image.verify()  # checks the chunks' CRCs and that the data is complete
    with Image.open(path) as image:
        if image.format != "PNG" or image.size != (int(width), int(height)):
            raise AssertionError(f"{path} is a {image.format} of {image.size}, "
                                 f"not a PNG of {(int(width), int(height))}")
        pixels = image.convert("RGB")
    total = pixels.width * pixels.height
    counts = {color: n for n, color in pixels.getcolors(total)}
    top_share, top_color = max((n / total, color) for color, n in counts.items())
    if top_share > 0.9:
        raise AssertionError(f"{path} is {top_share:.1%} {_hex(top_color)}: nothing rendered")
    for name, hex_color in (("background", background), ("text", text)):
        share = counts.get(_rgb(hex_color), 0) / total
        if share < 0.001:
            raise AssertionError(f"the page's {name} colour {hex_color} covers only "
                                 f"{share:.3%} of {path}")
    logger.info(f"{size_kb:.0f} kB, {len(counts)} colours, the most common "
                f"{_hex(top_color)} on {top_share:.1%}")


def _rgb(hex_color):
    return tuple(int(hex_color.lstrip("#")[i:i + 2], 16) for i in (0, 2, 4))


def _hex(rgb):
    return "#%02x%02x%02x" % rgb


def _squash(text):
    return re.sub(r"\s+", " ", text).strip()


class _Entries(HTMLParser):
    """Collects, for each element with ``data-name``, its arguments
    (``li.arg``), tags (``span.tag``), return type (``code.type`` outside
    the arguments) and its ``div.doc``'s text and formatting."""

    FEATURES = {"code", "b", "i", "li", "pre", "th", "td"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.entries = {}
        self.stack = []  # [tag, classes, attrs, text]
        self.entry = None
        self._last_repr = None
        self._last_required = False

    def _inside(self, tag=None, cls=None):
        return any((tag is None or t == tag) and (cls is None or cls in c)
                   for t, c, _, _ in self.stack)

    def _break(self, tag):
        if tag in BLOCKS:
            self.handle_data(" ")

    def handle_starttag(self, tag, attrs):
        self._break(tag)
        attrs = dict(attrs)
        if "data-name" in attrs and tag in ("section", "div"):
            self.entry = self.entries.setdefault(attrs["data-name"], {
                "args": [], "tags": [], "returns": None, "doc_text": "", "doc_features": [],
            })
        if tag not in VOID:
            self.stack.append([tag, (attrs.get("class") or "").split(), attrs, []])

    def handle_data(self, data):
        for element in self.stack:
            element[3].append(data)

    def handle_endtag(self, tag):
        self._break(tag)
        if tag in VOID or not self.stack:
            return
        while self.stack:
            t, classes, attrs, text = self.stack.pop()
            if t == tag:
                break
        text = "".join(text)
        entry = self.entry
        if entry is None:
            return
        if t == "li" and "arg" in classes:
            entry["args"].append({
                "repr": self._last_repr,
                "kind": attrs.get("data-kind"),
                "required": self._last_required,
            })
        elif t == "code" and "repr" in classes:
            self._last_repr = _squash(text)
            self._last_required = False
        elif t == "span" and "required" in classes:
            self._last_required = True
        elif t == "span" and "tag" in classes:
            entry["tags"].append(_squash(text))
        elif t == "code" and "type" in classes and not self._inside("ul", "args"):
            entry["returns"] = _squash(text)
        elif t == "div" and "doc" in classes:
            entry["doc_text"] = _squash(text)
        elif self._inside("div", "doc"):
            if t in self.FEATURES:
                entry["doc_features"].append(f"{t}: {_squash(text)}")
            elif t in ("a", "span") and "name" in classes:
                entry["doc_features"].append(f"name: {_squash(text)}")


def entries_on_page(dom):
    """What the rendered page shows, by keyword name."""
    parser = _Entries()
    parser.feed(dom)
    return parser.entries


def _type_repr(t):
    if t is None:
        return None
    if t["union"]:
        return " | ".join(_type_repr(n) for n in t["nested"])
    if t["nested"]:
        return f"{t['name']}[{', '.join(_type_repr(n) for n in t['nested'])}]"
    return t["name"]


def _doc_entry(name, html):
    parser = _Entries()
    parser.feed(f'<section data-name="{name}"><div class="doc">{html}</div></section>')
    return parser.entries[name]


def entries_in_libdoc(path):
    """What Robot's libdoc JSON of the server says, in the page's shape."""
    with open(path) as f:
        spec = json.load(f)
    entries = {}
    for kw in spec["keywords"]:
        entry = _doc_entry(kw["name"], kw["doc"])
        entry["args"] = [
            {"repr": a["repr"], "kind": ARG_KINDS[a["kind"]], "required": a["required"]}
            for a in kw["args"] if a["kind"] != "NAMED_ONLY_MARKER"
        ]
        entry["tags"] = list(kw["tags"])
        entry["returns"] = _type_repr(kw.get("returnType"))
        entries[kw["name"]] = entry
    entries["__intro__"] = _doc_entry("__intro__", spec["doc"])
    entries["__init__"] = _doc_entry("__init__", spec["inits"][0]["doc"])
    return entries


def page_fetches_nothing(dom):
    """Fails if the page loads anything: scripts, styles or images from
    elsewhere, or links that leave the page."""
    outside = re.findall(r'\b(?:src|href)="(?!#)([^"]*)"', dom)
    if outside:
        raise AssertionError(f"the page refers to {outside}")
