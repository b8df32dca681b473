"""The long fuzz run: tests/test_fuzz.py's strategies with 600 examples instead of CI's 30, and their statistics.

    .venv/bin/python bench/fuzz.py [--examples-profile long]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples-profile", default="long", choices=["ci", "long"])
    args = parser.parse_args()
    env = {**os.environ, "CALLIPER_FUZZ_PROFILE": args.examples_profile, "HF_HUB_OFFLINE": "1",
           "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W", "ignore",
                           "--hypothesis-show-statistics", str(ROOT / "tests" / "test_fuzz.py")], env=env, cwd=ROOT)
    sys.exit(done.returncode)


if __name__ == "__main__":
    main()
