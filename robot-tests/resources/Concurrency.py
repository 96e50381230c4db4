"""Many robots at once: threads calling one server in different namespaces."""

import subprocess
import xmlrpc.client
from concurrent.futures import ThreadPoolExecutor


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
    once. Fails unless every code equals oathtool's for that namespace's
    secret: one namespace's secret leaking into another shows up here.
    """
    calls = int(calls_per_namespace)
    expected = {ns: _oathtool_window(secret, calls) for ns, secret in secrets.items()}

    def robot(namespace):
        proxy = xmlrpc.client.ServerProxy(f"{base_url}/ns/{namespace}")
        result = proxy.run_keyword("Set Counter Based OTP", [secrets[namespace]])
        assert result["status"] == "PASS", result
        mismatches = []
        for counter in range(calls):
            result = proxy.run_keyword("Get Counter Based OTP", [str(counter)])
            if result.get("return") != expected[namespace][counter]:
                mismatches.append((counter, result))
        return namespace, mismatches

    with ThreadPoolExecutor(max_workers=len(secrets)) as pool:
        outcomes = list(pool.map(robot, secrets))
    failures = {ns: m[:3] for ns, m in outcomes if m}
    if failures:
        raise AssertionError(f"wrong codes: {failures}")
    return sum(calls for _ in outcomes)
