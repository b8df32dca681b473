"""The ``calliper`` command line: the same core as the plugin, for scripts and servers.

Bad input prints one line naming the problem and exits with code 2.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from .cli_landuse import add_classify, add_predict
from .cli_maps import add_cluster, add_raster, add_similarity
from .cli_mmgr import add_mmgr_train, add_region_raster, add_render_osm
from .cli_ranking import add_rank
from .errors import CalliperError, SettingsError
from .jobs import JobControl

EXIT_BAD_INPUT = 2


class TerminalProgress:
    """A tqdm bar driven by a JobControl's fractions (0..1)."""

    def __init__(self, label: str) -> None:
        from tqdm import tqdm

        self.bar = tqdm(total=1000, desc=label, unit="‰", leave=False, disable=not sys.stderr.isatty())

    def __call__(self, fraction: float, message: str) -> None:
        self.bar.n = int(fraction * 1000)
        if message:
            self.bar.set_postfix_str(message, refresh=False)
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


@contextmanager
def terminal_job(label: str) -> Iterator[JobControl]:
    """A JobControl drawing a terminal progress bar (closed however the job ends) and logging to stderr."""
    bar = TerminalProgress(label)
    try:
        yield JobControl(progress=bar, log=lambda message: print(f"  {message}", file=sys.stderr))
    finally:
        bar.close()


def _add_train(commands) -> None:
    p = commands.add_parser("train", help="train a CaLLiPer model on a POI layer")
    p.add_argument("--pois", required=True, help="POI file (GeoPackage, GeoJSON, Shapefile, CSV with x/y)")
    p.add_argument("--layer", help="layer name inside the file (GeoPackage)")
    p.add_argument("--class-field", required=True, help="field holding the POI class")
    p.add_argument("--category-field", help="field holding the POI category (class hierarchy level above)")
    p.add_argument("--name-field", help="field holding the POI name (with --include-name: CaLLiPer+)")
    p.add_argument("--include-name", action="store_true", help="append the POI name to each description")
    p.add_argument("--template", help="description template, e.g. 'A place of {class}[, called {name}]'")
    p.add_argument("--encoder", default="grid", help="location encoder (grid, theory, sphere_c, ..., grid_context)")
    p.add_argument("--streets", help="with --encoder grid_context: the .osm.pbf extract whose streets give connectivity")
    p.add_argument("--min-scale", type=float, help="smallest scale in metres (default: auto from the data)")
    p.add_argument("--max-scale", type=float, help="largest scale in metres (default: auto from the data)")
    p.add_argument("--frequencies", type=int, default=32, help="number of scales (default 32)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, help="global batch (default: 1024 on a CPU, 8192-32768 from free GPU memory)")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--patience", type=int, help="stop after this many epochs without a better validation loss")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--text-model", help="local sentence-transformers folder (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--csv-crs", help="CRS of a CSV file's coordinates (default EPSG:4326)")
    p.add_argument("--chunk-rows", type=int, help="POIs read at a time: memory follows this, not the file (default 100,000)")
    p.add_argument("--float16-texts", action="store_true", help="keep distinct text vectors as half floats (half the memory)")
    p.add_argument("--distributed", action="store_true",
                   help="one of several processes started by torchrun (e.g. torchrun --nproc_per_node=2 -m calliper.core.cli train --distributed ...)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.add_argument("--out", required=True, help="model folder to write")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> None:
    from .model import ModelSettings
    from .pipeline import TrainJob, train_from_points
    from .poi_text import TextFields, TextTemplate
    from .streaming import DEFAULT_CHUNK_ROWS, PointSource
    from .train import TrainSettings

    if args.chunk_rows is not None and args.chunk_rows < 1:
        raise SettingsError(f"--chunk-rows must be at least 1 (got {args.chunk_rows}).")
    # the context-graph path reads a streamed source whole itself (captions need every POI at once)
    points = PointSource(Path(args.pois), args.layer, args.csv_crs, args.chunk_rows or DEFAULT_CHUNK_ROWS)
    job = TrainJob(
        points=points,
        fields=TextFields(args.class_field, args.category_field, args.name_field),
        template=TextTemplate(template=args.template, include_name=args.include_name),
        model=ModelSettings(
            encoder=args.encoder, min_lambda=args.min_scale, max_lambda=args.max_scale, frequency_num=args.frequencies,
            encoder_options={"streets": args.streets} if args.streets else {},
        ),
        train=TrainSettings(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            patience=args.patience,
            device=args.device,
            seed=args.seed,
            distributed=args.distributed,
        ),
        out=Path(args.out),
        text_model=args.text_model,
        layer_name=f"the layer {Path(args.pois).name}",
        overwrite=args.overwrite,
        text_dtype="float16" if args.float16_texts else "float32",
    )
    with terminal_job("train") as control:
        outcome = train_from_points(job, control)
    if not outcome.saved:
        return  # another process of the group wrote the model and says so
    metrics = outcome.card.metrics
    print(
        f"Model written to {outcome.folder} (best validation loss {metrics['best_val_loss']:.4f} "
        f"at epoch {metrics['best_epoch']} of {metrics['epochs_run']}, {metrics['seconds']:.1f} s, "
        f"{outcome.card.training['n_pois']} POIs, device {outcome.result.device}, batch {outcome.result.batch_size}"
        + (f" over {outcome.result.world_size} processes" if outcome.result.world_size > 1 else "") + ")."
    )


def _add_embed_points(commands) -> None:
    p = commands.add_parser("embed-points", help="add embedding columns (emb_000, ...) to a copy of a point layer")
    p.add_argument("--model", required=True, help="model folder written by 'calliper train'")
    p.add_argument("--points", required=True, help="point file to embed")
    p.add_argument("--layer", help="layer name inside the file")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--out", required=True, help="output GeoPackage")
    p.set_defaults(run=_run_embed_points)


def _run_embed_points(args: argparse.Namespace) -> None:
    from .embed_points import embed_points_file
    from .model_files import load_model

    model = load_model(args.model)
    with terminal_job("embed") as control:
        out = embed_points_file(model, args.points, args.out, args.layer, args.overwrite, control)
    print(f"Embedded points written to {out}.")


def _add_demo(commands) -> None:
    p = commands.add_parser("demo", help="run the whole product on the embedded Helsinki OSM data")
    p.add_argument("--out", default="demo_output", help="folder for the demo's outputs")
    p.add_argument("--epochs", type=int, default=100)
    p.set_defaults(run=_run_demo)


def _run_demo(args: argparse.Namespace) -> None:
    from .demo import run_demo

    run_demo(Path(args.out), epochs=args.epochs)


COMMANDS: tuple[Callable, ...] = (
    _add_train, _add_embed_points, _add_demo, add_classify, add_predict, add_raster, add_similarity, add_cluster,
    add_render_osm, add_mmgr_train, add_region_raster, add_rank,
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
    except KeyboardInterrupt:
        print("calliper: interrupted; no partial output was kept (an embedding raster keeps its finished blocks "
              "hidden beside the output: the same command resumes it).", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
