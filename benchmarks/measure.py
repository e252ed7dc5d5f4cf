"""Warm-up, then repeated samples: p50 and p95 of what a callable takes."""

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field


def percentile(values: list[float], fraction: float) -> float:
    """Linear interpolation between the closest ranks (numpy's default)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    position = (len(ordered) - 1) * fraction
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


@dataclass
class Timing:
    samples_ms: list[float] = field(default_factory=list)
    extra: dict = field(default_factory=dict)

    @property
    def p50(self) -> float:
        return percentile(self.samples_ms, 0.50)

    @property
    def p95(self) -> float:
        return percentile(self.samples_ms, 0.95)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples_ms) if self.samples_ms else float("nan")

    def as_dict(self) -> dict:
        return {
            "p50_ms": round(self.p50, 2),
            "p95_ms": round(self.p95, 2),
            "mean_ms": round(self.mean, 2),
            "samples": len(self.samples_ms),
            **self.extra,
        }


def timed(
    fn: Callable[[], object],
    *,
    warmup: int,
    samples: int,
    budget_seconds: float = 12.0,
    min_samples: int = 5,
) -> tuple[Timing, object]:
    """Run fn `warmup` times untimed, then `samples` times timed. Returns the timing and the
    last result (so callers can check what came back).

    Something slow (seconds a call) stops early: after one warm-up, and once `budget_seconds`
    of sampling have passed with at least `min_samples` taken, so one slow report cannot hold
    the whole run up. The timing says how many samples it has."""
    result = None
    for n in range(warmup):
        started = time.perf_counter()
        result = fn()
        if n == 0 and time.perf_counter() - started > 1.0:
            break
    timing = Timing()
    began = time.perf_counter()
    for _ in range(samples):
        started = time.perf_counter()
        result = fn()
        timing.samples_ms.append((time.perf_counter() - started) * 1000)
        if len(timing.samples_ms) >= min_samples and time.perf_counter() - began > budget_seconds:
            break
    return timing, result


class Stopwatch:
    """Wall-clock seconds of each phase, in the order they ran."""

    def __init__(self):
        self.phases: dict[str, float] = {}
        self._started = time.perf_counter()

    def phase(self, name: str):
        watch = self

        class _Phase:
            def __enter__(self):
                self.started = time.perf_counter()
                print(f"\n== {name}", flush=True)
                return self

            def __exit__(self, *exc):
                seconds = time.perf_counter() - self.started
                watch.phases[name] = round(seconds, 1)
                print(f"   {name}: {seconds:.1f} s", flush=True)
                return False

        return _Phase()

    @property
    def total(self) -> float:
        return round(time.perf_counter() - self._started, 1)
