"""Build the documentation site with warnings as errors: a broken link, a missing page or image fails.

The site (MkDocs with the Material theme, `mkdocs.yml`) goes to help/ by default, where the plugin's
Help buttons look for it in a source checkout; scripts/package.py builds it into the plugin ZIP. The
reference pages are generated from the code at every build (scripts/docs_hooks.py).

    .venv/bin/python scripts/docs.py [--site DIR]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SITE = ROOT / "help"


def build_site(site: Path = DEFAULT_SITE) -> Path:
    """The built site's folder; stops with the builder's warnings when it is not clean."""
    if importlib.util.find_spec("mkdocs") is None:
        sys.exit(f"The documentation tools are missing: {sys.executable} -m pip install -r requirements-docs.txt")
    # Not --quiet: strict mode counts the warnings that are logged, and --quiet logs none.
    done = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)], cwd=ROOT,
                          capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"})
    if done.returncode != 0:
        problems = [line for line in (done.stdout + done.stderr).splitlines() if not line.startswith("INFO")]
        sys.exit("The documentation site does not build cleanly:\n" + "\n".join(problems))
    return site


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--site", type=Path, default=DEFAULT_SITE, help="folder for the built site (default help/)")
    print(build_site(parser.parse_args().site.resolve()))


if __name__ == "__main__":
    main()
