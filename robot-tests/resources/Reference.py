"""Independent references for one-time passwords: oathtool and pyotp.

Expected codes in the suites come from here, never from rpa-mfa itself.
"""

import subprocess
import time

import pyotp


def oathtool_totp(secret, at, algorithm="SHA1", digits=6, period=30):
    """``oathtool --totp`` for base32 ``secret`` at Unix time ``at``."""
    return _oathtool(
        f"--totp={algorithm.lower()}", "-d", str(digits), "-s", f"{period}s",
        "-N", f"@{int(float(at))}", secret,
    )


def oathtool_hotp(secret, counter, digits=6):
    """``oathtool --hotp`` for base32 ``secret`` at ``counter``."""
    return _oathtool("--hotp", "-d", str(digits), "-c", str(counter), secret)


def _oathtool(*args):
    result = subprocess.run(
        ["oathtool", "-b", *args], capture_output=True, text=True, check=True,
    )
    return result.stdout.strip()


def pyotp_totp_at(secret, at):
    return pyotp.TOTP(secret).at(int(float(at)))


def pyotp_hotp_at(secret, counter):
    return pyotp.HOTP(secret).at(int(counter))


def epoch_now():
    """The wall clock as Unix seconds with a fraction."""
    return time.time()
