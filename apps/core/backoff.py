"""Exponential backoff with jitter, in one place."""
from __future__ import annotations

import random


def backoff_seconds(attempt: int, *, base: float, cap: float, retry_after: float | None = None,
                    rng: random.Random | None = None) -> float:
    """Seconds to wait before attempt `attempt + 1` (attempt counts from 1).

    Exponential (base * 2**(attempt-1)) capped at `cap`, with "full jitter" on its
    upper half so that many accounts failing together do not retry in step. A
    vendor's Retry-After wins when it asks for longer.
    """
    rng = rng or random
    ceiling = min(cap, base * 2 ** max(0, attempt - 1))
    delay = ceiling / 2 + rng.uniform(0, ceiling / 2)
    if retry_after is not None:
        delay = max(delay, min(retry_after, cap))
    return delay
