"""Polling for a condition in tests: counts and states, never timings."""

import time


def wait_until(cond, timeout: float = 20, interval: float = 0.05) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if cond():
            return True
        time.sleep(interval)
    return False
