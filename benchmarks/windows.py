"""Change-window checks: is this instant inside a window? The cost must not grow with the rule's
age. Each rule is checked at a spread of instants in the coming year, as a release submission
checks it (its first occurrence from one window length before the instant), and
beside dateutil walking the same rule from its start, the way windows were evaluated before."""

from datetime import datetime, timedelta
from functools import partial

from dateutil.rrule import rrulestr

from benchmarks.config import Config
from benchmarks.measure import timed

RULES = [
    # (label, rule, window length)
    ("hourly, 30 min", "FREQ=HOURLY;BYMINUTE=0", timedelta(minutes=30)),
    ("weekdays 09:00-17:00", "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR", timedelta(hours=8)),
    ("last Friday of the month", "FREQ=MONTHLY;BYDAY=-1FR", timedelta(days=1)),
    # The worst the checks allow for one instant: hourly, and a window 31 days long.
    ("hourly, 31 days long", "FREQ=HOURLY", timedelta(days=31)),
]
STARTS = [datetime(2000, 1, 3, 9, 0), datetime(2026, 1, 5, 9, 0)]
NOW = datetime(2026, 12, 7, 10, 0)


def run(cfg: Config) -> dict:
    from apps.releases.rules import compile_rule

    instants = [NOW + timedelta(hours=7 * i + i % 5) for i in range(200)]
    figures = []
    for label, text, length in RULES:
        for start in STARTS:
            rule = compile_rule(text, start)
            cursor = iter(instants * (cfg.warmup + cfg.samples + 1))

            def check(rule=rule, length=length, cursor=cursor):
                instant = next(cursor)
                span = rule.occurrences(instant - length, instant + timedelta(seconds=1))
                return next(span, None)

            timing, _ = timed(check, warmup=cfg.warmup, samples=cfg.samples)
            figures.append({"rule": label, "since": start.year, **timing.as_dict()})
        walked = rrulestr(text, dtstart=STARTS[-1])
        timing, _ = timed(
            partial(walked.between, NOW - length, NOW + timedelta(seconds=1), inc=True),
            warmup=1,
            samples=min(cfg.samples, 5),
        )
        figures.append(
            {"rule": label, "since": STARTS[-1].year, "walked": True, **timing.as_dict()}
        )
    worst = max(f["p95_ms"] for f in figures if not f.get("walked"))
    return {"checks": figures, "worst_p95_ms": worst, "target_met": worst < 1.0}
