"""`python -m simulator`: run the cluster simulator until stopped."""

import argparse
import contextlib
import logging
import signal
import sys

from simulator.kubeconfig import write_kubeconfig
from simulator.server import Simulator


def _positive(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def _not_negative(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Runway's cluster simulator: a small Kubernetes API server with "
        "Deployment, ReplicaSet and pod controllers.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8701)
    parser.add_argument(
        "--ready-delay",
        type=_not_negative,
        default=1.0,
        help="seconds from a pod's creation until it is ready (default 1.0)",
    )
    parser.add_argument(
        "--tick", type=_positive, default=0.2, help="seconds between controller runs (0.2)"
    )
    parser.add_argument("--kubeconfig-out", metavar="PATH", help="write a kubeconfig here")
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--request-log",
        metavar="PATH",
        help="append one line per request (unix time, method, path) to this file",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s simulator %(levelname)s %(message)s",
    )
    try:
        simulator = Simulator(
            host=args.host,
            port=args.port,
            ready_delay=args.ready_delay,
            tick=args.tick,
            request_log=args.request_log,
        )
    except OSError as exc:
        print(f"cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 1
    if args.kubeconfig_out:
        write_kubeconfig(args.kubeconfig_out, simulator.url)
    # honcho and friends stop processes with SIGTERM: leave serve_forever cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    logging.getLogger("simulator").info(
        "cluster simulator on %s (kubeconfig: %s)", simulator.url, args.kubeconfig_out or "none"
    )
    with contextlib.suppress(KeyboardInterrupt):
        simulator.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
