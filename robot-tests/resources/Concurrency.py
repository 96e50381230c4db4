"""Many robots at once: threads calling one server in different namespaces."""

import subprocess
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor

from robot.api import logger


def _oathtool_window(secret, count):
    """HOTP codes for counters 0..count-1 from oathtool's look-ahead window."""
    result = subprocess.run(
        ["oathtool", "-b", "--hotp", "-c", "0", "-w", str(count - 1), secret],
        capture_output=True, text=True, check=True,
    )
    return result.stdout.split()


def hammer_namespaces_in_parallel(base_url, calls_per_namespace=100, **secrets):
    """For each ``namespace=secret``, one thread sets the namespace's HOTP
    secret and then asks for ``calls_per_namespace`` codes, all threads at
    once. Returns how many answers were PASS with the code oathtool gives
    for that namespace's secret: one namespace's secret leaking into
    another, a failed or a lost call makes it fall short. The first wrong
    answers of each namespace are logged.
    """
    calls = int(calls_per_namespace)
    expected = {ns: _oathtool_window(secret, calls) for ns, secret in secrets.items()}

    def robot(namespace):
        proxy = xmlrpc.client.ServerProxy(f"{base_url}/ns/{namespace}")
        result = proxy.run_keyword("Set Counter Based OTP", [secrets[namespace]])
        assert result["status"] == "PASS", result
        verified, wrong = 0, []
        for counter in range(calls):
            result = proxy.run_keyword("Get Counter Based OTP", [str(counter)])
            if result.get("status") == "PASS" and result.get("return") == expected[namespace][counter]:
                verified += 1
            else:
                wrong.append((counter, result))
        return namespace, verified, wrong

    with ThreadPoolExecutor(max_workers=len(secrets)) as pool:
        outcomes = list(pool.map(robot, secrets))
    for namespace, _, wrong in outcomes:
        if wrong:
            logger.warn(f"{namespace}: {len(wrong)} wrong answers, first: {wrong[:3]}")
    return sum(verified for _, verified, _ in outcomes)


def set_secrets_in_parallel(url, secret_name, vault, writers=8, writes=5):
    """``writers`` threads each call ``Set Secret`` ``writes`` times at
    once, each write adding its own key (``w<writer>k<write>``) to the same
    secret in ``vault``. Returns how many calls were PASS; whether every
    key arrived is for the caller to check in the vault itself."""
    writers, writes = int(writers), int(writes)

    def writer(number):
        proxy = xmlrpc.client.ServerProxy(url)
        passed = 0
        for write in range(writes):
            key = f"w{number}k{write}"
            result = proxy.run_keyword("Set Secret", [secret_name, {key: key}], {"vault": vault})
            if result.get("status") == "PASS":
                passed += 1
            else:
                logger.warn(f"writer {number}: {result.get('error')}")
        return passed

    with ThreadPoolExecutor(max_workers=writers) as pool:
        return sum(pool.map(writer, range(writers)))
