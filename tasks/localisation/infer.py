"""Localisation of (image, audio clip) pairs by a trained checkpoint: the evaluation's model map, outside a store.

The pairs go through the feature store's own preparation (:class:`tasks.features.audiovisual.AudioVisualFeatures`:
the frame resized to ``frame_side``, the clip cropped or zero-padded to ``clip_seconds`` and turned into the
``logmel_localisation`` log-mel, float16 as stored) and the batches' (ImageNet normalisation, as
:class:`tasks.localisation.data.PairDataset` gives them), so a pair localised here gets the maps the
evaluation computes for it in a store. Per pair (Qian et al., ECCV 2020; docs/methods.md#sound-localisation):
the model's map (stage 2's class-aware embeddings), stage 1's class-activation map, both over the
``frame_side`` x ``frame_side`` frame in [0, 1], and the audiovisual correspondence (stage 1's probability
that the clip is the image's sound).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from soundflow.audio import load_audio, resample
from soundflow.devices import pick_device
from tasks.features.audiovisual import AudioVisualFeatures
from tasks.features.frames import imagenet_normalise, load_image
from tasks.localisation import maps
from tasks.localisation.params import LocEvaluateParams
from tasks.localisation.train import load_model

CPU = torch.device("cpu")  # where the log-mel of a few clips is computed


@dataclass(frozen=True)
class MapOptions:
    """The ``localisation.evaluate`` parameters the model's map depends on."""

    class_threshold: float
    class_aware: bool = True
    normalise_pixels: bool = True

    @classmethod
    def of(cls, e: LocEvaluateParams) -> MapOptions:
        return cls(e.map_class_threshold, e.class_aware, e.normalise_pixels)


def model_maps(model, out: dict, side: int, o: MapOptions) -> dict[str, torch.Tensor]:
    """The model's map (N, S, S), its per-class maps (N, K, S, S), the audio class probabilities (N, K) and stage
    1's class-activation map (N, S, S) of one forward pass ``out``."""
    a_prob = torch.sigmoid(out["a_logits"].float())
    cm = maps.class_maps(model, out, side, o.normalise_pixels, o.class_aware)
    return {
        "model": maps.localisation_map(cm, a_prob, o.class_threshold),
        "class_maps": cm,
        "a_prob": a_prob,
        "class_activation": maps.audio_guided_cam(out, a_prob, side, o.class_threshold),
    }


def correspondence(model, out: dict) -> torch.Tensor:
    """(N,) stage 1's probability that pair i's audio and frame correspond (the matched class of its head)."""
    logits = model.correspondence(out["vmap"].mean((2, 3)), out["amap"].mean((2, 3)))  # (N audio, N frames, 2)
    return torch.softmax(logits.diagonal(dim1=0, dim2=1).float(), 0)[1]


class Localiser:
    """A localisation checkpoint (stage 1 or 2) with the store's frame side and clip length and the map options."""

    def __init__(
        self, checkpoint: Path, frame_side: int, clip_seconds: float, options: MapOptions, device: str = "auto"
    ) -> None:
        self.device = pick_device(device)
        self.model = load_model(checkpoint).to(self.device)
        self.rep = AudioVisualFeatures(frame_side, clip_seconds, self.model.n_classes, max_boxes=1)
        self.options = options

    @property
    def sample_rate(self) -> int:
        return self.rep.logmel.sample_rate

    def read_image(self, path: Path) -> np.ndarray:
        return load_image(path)

    def read_audio(self, path: Path) -> np.ndarray:
        return load_audio(path, self.sample_rate)

    def audio_at_rate(self, wave: np.ndarray, rate: int) -> np.ndarray:
        return resample(np.asarray(wave, dtype=np.float32).reshape(-1), rate, self.sample_rate)

    @torch.no_grad()
    def localise(self, images: list[np.ndarray], waves: list[np.ndarray]) -> dict[str, np.ndarray]:
        """``heatmap`` and ``class_activation`` (N, S, S) and ``correspondence`` (N,) of each (H x W x 3 uint8 image,
        mono waveform at :attr:`sample_rate`) pair."""
        # as the evaluation's batches are made (PairDataset's items, stacked): the same memory layout, the same sums
        frames = torch.stack([imagenet_normalise(self.rep.frame(np.asarray(im, dtype=np.uint8)))[0] for im in images])
        audio = torch.stack([torch.from_numpy(m)[None] for m in self.rep.audio([self.rep.clip(w) for w in waves], CPU)])
        out = self.model(frames.to(self.device), audio.to(self.device))
        m = model_maps(self.model, out, self.rep.frame_side, self.options)
        return {
            "heatmap": m["model"].float().cpu().numpy(),
            "class_activation": m["class_activation"].float().cpu().numpy(),
            "correspondence": correspondence(self.model, out).cpu().numpy(),
        }
