"""The ``train`` and ``embed-points`` commands: a model from a POI file, and a point layer in its space."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..core.data.places_schemas import DEFAULT_MIN_CONFIDENCE, PlacesSettings
from ..core.errors import SettingsError
from ..core.model import DEFAULT_PATIENCE, NAMED_TEXTS_LIMIT
from .terminal import terminal_job


def add_train(commands) -> None:
    p = commands.add_parser("train", help="train a CaLLiPer model on a POI layer")
    p.add_argument("--pois", required=True, help="POI file (GeoPackage, GeoJSON, Shapefile, CSV with x/y, "
                                                 "(Geo)Parquet: Overture or Foursquare places need no field options)")
    p.add_argument("--layer", help="layer name inside the file (GeoPackage)")
    p.add_argument("--class-field", help="field holding the POI class (not needed for Overture / Foursquare places)")
    p.add_argument("--category-field", help="field holding the POI category (class hierarchy level above)")
    p.add_argument("--name-field", help="field holding the POI name: appended to each description (CaLLiPer+) "
                                        f"while the distinct descriptions stay under {NAMED_TEXTS_LIMIT:,}")
    names = p.add_mutually_exclusive_group()
    names.add_argument("--include-name", action="store_true", default=None,
                       help="append the names whatever their number")
    names.add_argument("--no-names", dest="include_name", action="store_false", help="never append the names")
    p.add_argument("--template", help="description template, e.g. 'A place of {class}[, called {name}]'")
    p.add_argument("--level", type=int, help="places files: the category level that is the class, 1 = top level "
                                              "(default: the most specific)")
    p.add_argument("--min-confidence", type=float, default=DEFAULT_MIN_CONFIDENCE,
                   help=f"places files: leave out places under this confidence (default {DEFAULT_MIN_CONFIDENCE}; 0 keeps all)")
    p.add_argument("--encoder", default="grid", help="location encoder (grid, theory, sphere_c, ..., grid_context)")
    p.add_argument("--streets", help="with --encoder grid_context: the .osm.pbf extract whose streets give connectivity")
    p.add_argument("--min-scale", type=float, help="smallest scale in metres (default: auto from the data)")
    p.add_argument("--max-scale", type=float, help="largest scale in metres (default: auto from the data)")
    p.add_argument("--frequencies", type=int, default=32, help="number of scales (default 32)")
    p.add_argument("--epochs", type=int, default=100)
    p.add_argument("--batch-size", type=int, help="global batch (default: 1024 on a CPU, 8192-32768 from free GPU memory)")
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--patience", type=int, default=DEFAULT_PATIENCE,
                   help=f"stop after this many epochs without a better validation loss (default {DEFAULT_PATIENCE}; "
                        "0 trains every epoch)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--text-model", help="local sentence-transformers folder (default: packaged all-MiniLM-L6-v2)")
    p.add_argument("--csv-crs", help="CRS of a CSV file's coordinates (default EPSG:4326)")
    p.add_argument("--chunk-rows", type=int, help="POIs read at a time: memory follows this, not the file (default 100,000)")
    p.add_argument("--float16-texts", action="store_true", help="keep distinct text vectors as half floats (half the memory)")
    p.add_argument("--distributed", action="store_true",
                   help="one of several processes started by torchrun (e.g. torchrun --nproc_per_node=2 -m calliper.cli train --distributed ...)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model folder")
    p.add_argument("--out", required=True, help="model folder to write")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> None:
    from ..core.catalog.training import train_from_points
    from ..core.data.streaming import DEFAULT_CHUNK_ROWS, PointSource
    from ..core.model.pipeline import TrainJob
    from ..core.model.settings import ModelSettings
    from ..core.model.train import TrainSettings
    from ..core.text.corpus import places_inputs
    from ..core.text.descriptions import TextFields, TextTemplate

    if args.chunk_rows is not None and args.chunk_rows < 1:
        raise SettingsError(f"--chunk-rows must be at least 1 (got {args.chunk_rows}).")
    # the context-graph path reads a streamed source whole itself (captions need every POI at once)
    chunk_rows, places = args.chunk_rows or DEFAULT_CHUNK_ROWS, PlacesSettings(args.level, args.min_confidence)
    if args.class_field:
        points = PointSource(Path(args.pois), args.layer, args.csv_crs, chunk_rows, places)
        fields = TextFields(args.class_field, args.category_field, args.name_field)
        template = TextTemplate(template=args.template, include_name=args.include_name)
    else:  # an Overture or Foursquare places file knows its fields
        points, fields, template = places_inputs(Path(args.pois), places, args.template, args.include_name, chunk_rows)
    job = TrainJob(
        points=points,
        fields=fields,
        template=template,
        model=ModelSettings(
            encoder=args.encoder, min_lambda=args.min_scale, max_lambda=args.max_scale, frequency_num=args.frequencies,
            encoder_options={"streets": args.streets} if args.streets else {},
        ),
        train=TrainSettings(
            epochs=args.epochs,
            batch_size=args.batch_size,
            learning_rate=args.learning_rate,
            patience=args.patience or None,
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


def add_embed_points(commands) -> None:
    p = commands.add_parser("embed-points", help="add embedding columns (emb_000, ...) to a copy of a point layer")
    p.add_argument("--model", required=True, help="model folder written by 'calliper train'")
    p.add_argument("--points", required=True, help="point file to embed")
    p.add_argument("--layer", help="layer name inside the file")
    p.add_argument("--overwrite", action="store_true")
    p.add_argument("--out", required=True, help="output GeoPackage")
    p.set_defaults(run=_run_embed_points)


def _run_embed_points(args: argparse.Namespace) -> None:
    from ..core.catalog.loading import load_model
    from ..core.model.embed_points import embed_points_file

    model = load_model(args.model)
    with terminal_job("embed") as control:
        out = embed_points_file(model, args.points, args.out, args.layer, args.overwrite, control)
    print(f"Embedded points written to {out}.")
