"""What the benchmark scripts share: the best of a few timed runs (noise only ever adds time)."""

import time


def best_of(fn, repeats=3):
    """The shortest of ``repeats`` wall-clock times of ``fn()``, in seconds."""
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)
