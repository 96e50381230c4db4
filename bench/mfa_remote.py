"""Serve rpaframework's RPA.MFA with robotremoteserver, for bench/compare.sh.

Usage: python mfa_remote.py PORT_FILE [HOST]

Listens on HOST (default 127.0.0.1) on a free port and writes that port to
PORT_FILE once listening, as `rpa-mfa serve --port 0 --port-file` does.

robotremoteserver cannot take an MFA() instance as it is: it scans the
instance with inspect.getmembers(), which reads MFA's `oauth` property, and
that raises OAuth2NotSetError when no OAuth client has been set up. So the
instance is exposed through Robot's dynamic library API instead, which only
looks at MFA's class, never at its properties.
"""

import inspect
import sys

from robotremoteserver import RobotRemoteServer
from RPA.MFA import MFA


def _normalize(name):
    return name.lower().replace(" ", "").replace("_", "")


class DynamicMFA:
    """Robot dynamic library API delegating to one RPA.MFA MFA() instance."""

    def __init__(self):
        self._mfa = MFA()
        self._keywords = {}  # normalized name -> (keyword name, function)
        for attr, func in inspect.getmembers(type(self._mfa), inspect.isfunction):
            if attr.startswith("_") or not hasattr(func, "robot_name"):
                continue  # only @keyword methods
            name = func.robot_name or attr.replace("_", " ").title()
            self._keywords[_normalize(name)] = (name, func)

    def _function(self, name):
        try:
            return self._keywords[_normalize(name)][1]
        except KeyError:
            raise RuntimeError("No keyword with name '%s' found." % name)

    def get_keyword_names(self):
        return [name for name, _ in self._keywords.values()]

    def run_keyword(self, name, args, kwargs=None):
        return self._function(name)(self._mfa, *args, **(kwargs or {}))

    def get_keyword_arguments(self, name):
        spec = []
        params = list(inspect.signature(self._function(name)).parameters.values())[1:]
        for p in params:
            if p.kind is p.VAR_POSITIONAL:
                spec.append("*" + p.name)
            elif p.kind is p.VAR_KEYWORD:
                spec.append("**" + p.name)
            elif p.default is p.empty:
                spec.append(p.name)
            else:
                spec.append("%s=%s" % (p.name, p.default))
        return spec

    def get_keyword_documentation(self, name):
        if name == "__intro__":
            return inspect.getdoc(MFA) or ""
        if name == "__init__":
            return inspect.getdoc(MFA.__init__) or ""
        return inspect.getdoc(self._function(name)) or ""

    def get_keyword_tags(self, name):
        return list(getattr(self._function(name), "robot_tags", ()) or ())


def main(argv):
    if len(argv) not in (2, 3):
        sys.exit("usage: mfa_remote.py PORT_FILE [HOST]")
    host = argv[2] if len(argv) == 3 else "127.0.0.1"
    RobotRemoteServer(DynamicMFA(), host=host, port=0, port_file=argv[1])


if __name__ == "__main__":
    main(sys.argv)
