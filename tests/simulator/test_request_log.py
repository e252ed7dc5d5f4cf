"""The optional request log: one line per request, for measuring the cluster from outside."""

import time
import urllib.request

from simulator.server import Simulator


def test_the_request_log_has_a_line_per_request_with_its_time_and_status(tmp_path):
    log = tmp_path / "requests.log"
    simulator = Simulator(port=0, tick=0.05, request_log=str(log))
    simulator.start()
    try:
        before = time.time()
        urllib.request.urlopen(f"{simulator.url}/version", timeout=5).read()
        urllib.request.urlopen(f"{simulator.url}/api/v1/namespaces/shop/pods", timeout=5).read()
    finally:
        simulator.stop()
    lines = [line.split(" ") for line in log.read_text().splitlines()]
    assert [(method, path, status) for _, method, path, status in lines] == [
        ("GET", "/version", "200"),
        ("GET", "/api/v1/namespaces/shop/pods", "200"),
    ]
    assert all(before - 1 <= float(at) <= time.time() for at, *_ in lines)


def test_without_a_request_log_nothing_is_written(tmp_path):
    simulator = Simulator(port=0, tick=0.05)
    simulator.start()
    try:
        urllib.request.urlopen(f"{simulator.url}/version", timeout=5).read()
    finally:
        simulator.stop()
    assert list(tmp_path.iterdir()) == []
