"""Regenerate the README's screenshots of the landing page (`make screenshots`):
the exporter on the demo data, photographed by headless chromium."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from exporter.app import Exporter, ServeOptions
from exporter.config import load_config
from exporter.demo import demo_environment

OUT = Path(__file__).resolve().parent / "img"
SHOTS = {  # file: (path and query, window size)
    "landing-page.png": ("/", "1400,1500"),
    "landing-page-team-filter.png": ("/?q=payments&sort=cost&dir=desc", "1400,900"),
}


def main() -> int:
    browser = shutil.which("chromium")
    if browser is None:
        print("chromium not found: run `make tools`", file=sys.stderr)
        return 1
    OUT.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as folder, demo_environment(folder) as env:
        exporter = Exporter(
            ServeOptions(config_file=str(env.config_file), listen_address="127.0.0.1:0"),
            load_config(env.config_file),
        )
        exporter.start()
        try:
            if not exporter.refresher.ready.wait(120):
                print("the demo's first refresh did not finish", file=sys.stderr)
                return 1
            for name, (path, size) in SHOTS.items():
                subprocess.run(
                    [
                        browser,
                        "--headless",
                        "--no-sandbox",
                        "--disable-gpu",
                        "--hide-scrollbars",
                        f"--window-size={size}",
                        f"--screenshot={OUT / name}",
                        f"http://127.0.0.1:{exporter.port}{path}",
                    ],
                    check=True,
                    capture_output=True,
                    timeout=120,
                )
                print(f"wrote {OUT / name}")
        finally:
            exporter.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
