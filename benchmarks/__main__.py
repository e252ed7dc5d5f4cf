"""`python -m benchmarks`: load a large organisation into PostgreSQL and measure Runway on it.

python -m benchmarks                 the whole run (what `make bench` does)
python -m benchmarks --scale 0.05    a quick, small run while developing
python -m benchmarks --keep-db       reuse the loaded database when it was made the same way
python -m benchmarks --only web,dora choose phases: load web dora scorecards dispatch
                                     sustained trains supplychain fanout windows backstage
python -m benchmarks --backstage     Backstage's catalog backend installed from npm and measured
                                     in the run, beside Runway, rather than its recorded figures
"""

import argparse
import sys
from pathlib import Path

from benchmarks.config import Config, default_backstage_generator
from benchmarks.measure import Stopwatch

PHASES = (
    "load",
    "web",
    "dora",
    "scorecards",
    "dispatch",
    "sustained",
    "trains",
    "supplychain",
    "fanout",
    "windows",
    "backstage",
)


def parse_args(argv: list[str] | None = None) -> Config:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--scale", type=float, default=1.0, help="data size; 1.0 is the issue's")
    parser.add_argument("--samples", type=int, default=30, help="timed samples per measurement")
    parser.add_argument("--warmup", type=int, default=5, help="untimed runs before sampling")
    parser.add_argument("--keep-db", action="store_true", help="reuse a loaded database")
    parser.add_argument("--only", default="", help=f"comma-separated phases of {PHASES}")
    parser.add_argument("--database", default="runway_bench")
    parser.add_argument("--backstage-database", default="runway_bench_backstage")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/7", help="a db of its own")
    parser.add_argument(
        "--backstage-gen",
        type=Path,
        default=default_backstage_generator(),
        help="Backstage catalog generator (default: $BACKSTAGE_GEN or "
        "benchmarks/backstage_catalog_gen.py)",
    )
    parser.add_argument(
        "--backstage",
        action="store_true",
        help="install Backstage's catalog backend from npm (into var/) and measure it beside "
        "Runway in this run, rather than showing its recorded figures",
    )
    parser.add_argument("--out", type=Path, default=None, help="results folder")
    args = parser.parse_args(argv)
    only = {p.strip() for p in args.only.split(",") if p.strip()}
    unknown = only - set(PHASES)
    if unknown:
        parser.error(f"unknown phase(s) {', '.join(sorted(unknown))}; choose from {PHASES}")
    if args.backstage and only and "backstage" not in only:
        parser.error("--backstage measures the backstage phase: add it to --only")
    cfg = Config(
        scale=args.scale,
        database=args.database,
        backstage_database=args.backstage_database,
        redis_url=args.redis,
        samples=args.samples,
        warmup=args.warmup,
        keep_db=args.keep_db,
        only=only,
        backstage_gen=args.backstage_gen,
        backstage_live=args.backstage,
    )
    if args.out:
        cfg.out_dir = args.out
    return cfg


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    if cfg.wants("backstage") and not cfg.backstage_gen.is_file():
        print(
            f"The Backstage catalog generator is missing: {cfg.backstage_gen}\n"
            "Set BACKSTAGE_GEN=/path/to/backstage_catalog_gen.py (or --backstage-gen), or leave "
            "the comparison out with --only load,web,dora,scorecards,dispatch,trains,fanout.",
            file=sys.stderr,
        )
        return 2
    cfg.apply_to_this_process()
    import django

    django.setup()

    from benchmarks import backstage_live, report
    from benchmarks.run import Run

    if cfg.backstage_live:
        # Before anything is loaded: a failed install stops the run at once, not at its end.
        try:
            backstage_live.install()
        except RuntimeError as exc:
            print(exc, file=sys.stderr)
            return 2

    watch = Stopwatch()
    run = Run(cfg, watch)
    try:
        run.execute()
    finally:
        run.close()
    results = run.results(total_seconds=watch.total)
    paths = report.write(cfg, results)
    print()
    print(report.markdown(results))
    print(f"Written: {', '.join(str(p) for p in paths)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
