"""Run the fake AWS in its own process (benchmarks keep the exporter's RSS its own):

    python -m exporter.fake --port 4566 [--latency 0.05] [--demo]

Prints ``FAKE_AWS_ENDPOINT=<url>`` once serving; drive it with
``exporter.fake.FakeAwsClient(url)``. Stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading

from exporter.fake.server import FakeAws


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m exporter.fake", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port (default 0: a free one)")
    parser.add_argument(
        "--latency", type=float, default=0.0, help="seconds added to every AWS request"
    )
    parser.add_argument("--demo", action="store_true", help="seed the demo accounts and data")
    args = parser.parse_args(argv)

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with FakeAws(args.host, args.port, latency=args.latency) as fake:
        if args.demo:
            from exporter.fake.demo_data import seed_demo

            layout = seed_demo(fake)
            print(f"seeded demo data: {layout.records}", file=sys.stderr)
        print(f"FAKE_AWS_ENDPOINT={fake.endpoint_url}", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
