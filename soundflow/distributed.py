"""Process groups for DistributedDataParallel training: what :func:`soundflow.training.fit` needs of them.

``torchrun --nproc_per_node N -m soundflow stage NAME`` starts N processes with ``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` set; :func:`init_from_env` joins them into one process
group (NCCL on CUDA, gloo on the CPU), with a timeout so that a rank that died does not leave the others
waiting for ever. Without those variables nothing here does anything: a single process is rank 0 of 1.

The batch convention: a training loader's ``batch_size`` is the *global* batch. :func:`shard_loader` gives
each of the N ranks ``batch_size / N`` items per step from a :class:`~torch.utils.data.DistributedSampler`
over the same permutation, so that one step of N ranks sees the items one step of a single process sees
with the same seed, and DDP's gradient average equals the single process's mean-loss gradient.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Mapping

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler

from soundflow.env import launch_rank

LAUNCH_ENV = ("WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
TIMEOUT = datetime.timedelta(minutes=30)  # a collective no rank answers for this long is an error


def launched() -> bool:
    """Whether a launcher (torchrun) started this process as one rank of several: its variables are all set."""
    return all(os.environ.get(k) for k in LAUNCH_ENV) and int(os.environ["WORLD_SIZE"]) > 1


def active() -> bool:
    """Whether a process group of more than one rank is up."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def init_from_env(timeout: datetime.timedelta = TIMEOUT) -> tuple[int, int]:
    """Join the launcher's process group once (a no-op when already joined or not launched); (rank, world size)."""
    if launched() and not (dist.is_available() and dist.is_initialized()):
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":  # one GPU per rank: the collectives and DDP use the current device
            torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
        dist.init_process_group(backend, init_method="env://", timeout=timeout)
    return world()


def world() -> tuple[int, int]:
    """(rank, world size) of the process group, else what the launcher said, else (0, 1)."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return launch_rank(), (int(os.environ["WORLD_SIZE"]) if launched() else 1)


def is_main() -> bool:
    """Whether this process is rank 0, the one that writes files, logs and tracks."""
    return world()[0] == 0


def barrier() -> None:
    """Wait for every rank (nothing to wait for in a single process)."""
    if active():
        dist.barrier()


def all_reduce_sum(values: list[float], device: torch.device) -> list[float]:
    """Each value summed over the ranks (float64, on ``device``: NCCL reduces only CUDA tensors)."""
    if not active():
        return list(values)
    t = torch.tensor(values, dtype=torch.float64, device=device)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t.tolist()


def all_reduce_mean(metrics: Mapping[str, float], device: torch.device) -> dict[str, float]:
    """Each metric averaged over the ranks (in key order, the same on every rank); a single process's unchanged."""
    if not active():
        return dict(metrics)
    keys = sorted(metrics)
    sums = all_reduce_sum([float(metrics[k]) for k in keys], device)
    n = dist.get_world_size()
    return {**metrics, **{k: s / n for k, s in zip(keys, sums)}}


def broadcast_buffers(model: torch.nn.Module) -> None:
    """Rank 0's buffers (batch-norm statistics) on every rank: DDP syncs them before each training forward,
    but each rank's last forward then updates its own copy, and the validation must see rank 0's model."""
    if active():
        for b in model.buffers():
            dist.broadcast(b, src=0)


def shard_loader(loader: DataLoader, rank: int, world_size: int) -> DataLoader:
    """``loader`` for one of ``world_size`` ranks: ``batch_size / world_size`` items a step from a
    DistributedSampler (shuffled as the loader was, seeded by its sampler or generator, the same on every rank)."""
    sampler = loader.sampler
    if isinstance(sampler, DistributedSampler) and sampler.num_replicas == world_size:
        return loader  # sharded by the task itself
    if loader.batch_size is None or not isinstance(sampler, (RandomSampler, SequentialSampler, DistributedSampler)):
        raise ValueError(f"a distributed run shards loaders of a batch size and a plain or random sampler: {sampler}")
    if loader.batch_size % world_size:
        raise ValueError(f"the global batch of {loader.batch_size} does not split over {world_size} ranks")
    if isinstance(sampler, DistributedSampler):
        shuffle, seed = sampler.shuffle, sampler.seed
    else:
        shuffle, seed = isinstance(sampler, RandomSampler), loader.generator.initial_seed()
    shards = DistributedSampler(
        loader.dataset, num_replicas=world_size, rank=rank, shuffle=shuffle, seed=seed, drop_last=loader.drop_last
    )
    workers = loader.num_workers
    return DataLoader(
        loader.dataset,
        batch_size=loader.batch_size // world_size,
        sampler=shards,
        num_workers=workers,
        collate_fn=loader.collate_fn,
        pin_memory=loader.pin_memory,
        drop_last=loader.drop_last,
        timeout=loader.timeout,
        worker_init_fn=loader.worker_init_fn,
        generator=loader.generator,  # still the workers' seeds, saved with the resumable state
        prefetch_factor=loader.prefetch_factor if workers else None,
        persistent_workers=loader.persistent_workers,
    )
