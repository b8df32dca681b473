"""The ``calliper`` command line: the same core as the plugin, for scripts and servers.

Bad input prints one line naming the problem and exits with code 2. Each command group
lives in its own module, which adds its sub-commands to the parser.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Callable, Sequence

from ..core.errors import CalliperError, disk_full
from .demo.run import add_demo
from .imagery import add_mmgr_train, add_region_raster, add_render_osm
from .landuse import add_classify, add_predict
from .maps import add_cluster, add_describe, add_raster, add_similarity
from .profiles import add_profile, add_transfer
from .ranking import add_rank
from .train import add_embed_points, add_train

EXIT_BAD_INPUT = 2


COMMANDS: tuple[Callable, ...] = (
    add_train, add_embed_points, add_demo, add_classify, add_predict, add_raster, add_similarity, add_cluster,
    add_render_osm, add_mmgr_train, add_region_raster, add_rank, add_describe, add_profile, add_transfer,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="calliper", description="Language-location embeddings from POIs (CaLLiPer).")
    commands = parser.add_subparsers(dest="command", required=True)
    for add in COMMANDS:
        add(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``calliper`` script."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except CalliperError as error:
        print(f"calliper: error: {error.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except OSError as error:
        full = disk_full(error)  # a write outside our atomic writers (caches, scratch files) hit a full disk
        if full is None:
            raise
        print(f"calliper: error: {full.message}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("calliper: interrupted; no partial output was kept (an embedding raster keeps its finished blocks "
              "hidden beside the output: the same command resumes it).", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
