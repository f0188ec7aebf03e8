"""``soundflow features``: a feature store of any labelled audio folder, Cityscapes-layout image folder or CSV."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import click

from soundflow.errors import UserError
from soundflow.pipeline.cli.command import command, project_root


@command(
    "features",
    writes=True,
    help="a feature store of a labelled audio folder, a Cityscapes-layout image folder or a metadata CSV",
)
@click.argument(
    "representation",
    help="logmel_pann | logmel_yamnet | logmel_localisation | logmel_t2a | third_octave | stft_chunks | frames",
)
@click.argument(
    "source", help="a dataset folder, or a CSV with a path column (label/labels/label_path, fold/split optional)"
)
@click.option(
    "--layout",
    type=click.Choice(["urbansound8k", "esc50", "cityscapes"]),
    default="urbansound8k",
    help="layout of a source folder (default urbansound8k)",
)
@click.option("--out", required=True, help="store folder (rerunning resumes it)")
@click.option("--clip-seconds", type=float, default=None, help="crop/pad audio to this length")
@click.option("--shard-size", type=int, default=256, show_default=True)
@click.option("--workers", type=int, default=2, help="reading threads")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--max-bad-fraction", type=float, default=0.05, show_default=True)
@click.option(
    "--dask",
    is_flag=True,
    help="shards as Prefect tasks on Dask ($DASK_SCHEDULER_ADDRESS or a local cluster)",
)
def cmd_features(args: SimpleNamespace) -> int:
    from soundflow.devices import pick_device
    from soundflow.pipeline.config import load_params
    from tasks.features import sets
    from tasks.features.representations import make_representation

    root = project_root()
    source = Path(args.source).resolve()
    out = Path(args.out).resolve()
    try:
        if source.is_file() and source.suffix == ".csv":
            table = sets.metadata_table(source, root)
        elif args.layout == "cityscapes":
            table = sets.image_folder_table(source, root)
        else:
            table = sets.labelled_audio_table(source, args.layout, root)
        rep = make_representation(
            args.representation, clip_seconds=args.clip_seconds, aed_features=load_params(root).aed.features
        )
        sets.check_modality(sets.FeatureSet(source.name, args.representation), table)
        summary = sets.extract_set(
            table,
            out,
            rep,
            root=root,
            shard_size=args.shard_size,
            workers=args.workers,
            device=str(pick_device(args.device)),
            max_bad_fraction=args.max_bad_fraction,
            runner="dask" if args.dask else "local",
        )
    except ValueError as err:  # bad input (a CSV without paths, an unknown representation), not a bug
        if isinstance(err, UserError):
            raise
        raise UserError(str(err)) from err
    print(
        f"{args.representation}: {summary['n_clips']} input(s), {summary['n_items']} item(s), "
        f"{summary['n_skipped']} skipped (listed in {out / 'skipped.csv'}) -> {out}"
    )
    return 0
