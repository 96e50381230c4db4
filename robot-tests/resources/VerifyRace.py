"""Many robots typing one OTP code into a fleet at the same moment: the
``Verify ... OTP`` keywords must accept it exactly once, store-wide."""

import threading
from concurrent.futures import ThreadPoolExecutor

from robot.api import logger

from Fleet import _proxy

RACE_TIMEOUT = 60  # seconds the whole race may take


def one_code_should_be_accepted_exactly_once(urls, keyword, code, attempts=30, threads=6,
                                             **named):
    """Sends ``keyword    code`` (with ``named`` arguments) ``attempts``
    times from ``threads`` threads released together, call i to
    ``urls[i % len(urls)]``. Fails unless exactly one call passes and every
    other fails as a replay (``MFAAuthenticationFailure: The code was
    already used``)."""
    attempts, threads = int(attempts), int(threads)
    urls = list(urls)
    start = threading.Barrier(threads)

    def robot(first):
        start.wait(timeout=RACE_TIMEOUT)
        return [_proxy(urls[i % len(urls)]).run_keyword(keyword, [code], named)
                for i in range(first, attempts, threads)]

    with ThreadPoolExecutor(max_workers=threads) as pool:
        futures = [pool.submit(robot, t) for t in range(threads)]
        results = [r for f in futures for r in f.result(timeout=RACE_TIMEOUT)]
    passed = [r for r in results if r.get("status") == "PASS"]
    replays = [r for r in results
               if r.get("error", "").startswith("MFAAuthenticationFailure: The code was already used")]
    if len(passed) != 1 or len(replays) != attempts - 1:
        others = [r.get("error") for r in results
                  if r not in passed and r not in replays][:3]
        raise AssertionError(f"{len(passed)} of {attempts} attempts passed and "
                             f"{len(replays)} were refused as replays; others: {others}")
    logger.info(f"1 of {attempts} concurrent attempts over {len(urls)} servers passed")
