"""rpaframework's own Control Room client, RPA.Robocorp.Vault.RobocorpVault,
driven from the command line (it runs in the rpaframework peer venv, which
Robot's venv cannot import from):

    python rpaframework_vault.py get NAME        prints {"description", "values"} as JSON
    python rpaframework_vault.py set NAME DESC   stores the JSON object read from stdin

It reads RC_API_SECRET_HOST, RC_API_SECRET_TOKEN and RC_WORKSPACE_ID, as in
a Control Room run. A failure prints the client's error (type and text,
with the cause it chains) on stderr and exits 1.
"""

import json
import sys

from RPA.Robocorp.Vault import RobocorpVault, Secret


def main():
    action, name = sys.argv[1], sys.argv[2]
    vault = RobocorpVault()
    try:
        if action == "get":
            secret = vault.get_secret(name)
            print(json.dumps({"description": secret.description, "values": dict(secret)}))
        elif action == "set":
            values = json.load(sys.stdin)
            vault.set_secret(Secret(name, sys.argv[3], values))
        else:
            raise SystemExit(f"unknown action {action}")
    except Exception as error:  # the client's own error, as a robot would see it
        cause = f" (caused by {type(error.__cause__).__name__})" if error.__cause__ else ""
        print(f"{type(error).__name__}: {error}{cause}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
