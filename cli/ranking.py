"""The ``calliper rank`` command: which features of a point layer best fit a text.

Registered in ``cli.COMMANDS``; heavy modules are imported when the command runs.
"""

from __future__ import annotations

import argparse


def add_rank(commands) -> None:
    p = commands.add_parser("rank", help="rank the features of a point layer for a text (best first)")
    p.add_argument("--model", required=True, help="model folder written by 'calliper train'")
    p.add_argument("--points", required=True, help="point file whose features are ranked")
    p.add_argument("--layer", help="layer name inside the file")
    p.add_argument("--text", required=True, help="what the place is like, e.g. 'a cafe among restaurants'")
    p.add_argument("--top", type=int, default=10, help="how many of the best features to print (default 10)")
    p.add_argument("--out", help="also write every feature with its score and rank to this GeoPackage")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(run=_run_rank)


def _run_rank(args: argparse.Namespace) -> None:
    from ..core.catalog.loading import load_model
    from ..core.context.ranking import rank_points_file

    ranked = rank_points_file(load_model(args.model), args.text, args.points, args.layer, args.out, args.overwrite)
    columns = [column for column in ranked.columns if column not in ("geometry", "score", "rank")][:3]
    for _, row in ranked.head(max(args.top, 0)).iterrows():
        described = ", ".join(f"{column}={row[column]}" for column in columns)
        print(f"{row['rank']:>4}  {row['score']:.4f}  x={row.geometry.x:.1f} y={row.geometry.y:.1f}  {described}")
    if args.out:
        print(f"All {len(ranked)} features with score and rank written to {args.out}.")
