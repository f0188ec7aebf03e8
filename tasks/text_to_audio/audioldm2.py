"""AudioLDM2 through diffusers (Liu et al., "AudioLDM 2", IEEE/ACM TASLP 2024), as Ronchini et al. used it.

``cvssp/audioldm2`` by default, or any folder holding a saved ``AudioLDM2Pipeline`` (``save_pretrained``).
fp16 on CUDA, fp32 on the CPU. Each clip gets its own ``torch.Generator`` seeded with the clip's seed, so
its initial latents, and therefore the clip, do not depend on the other prompts of its batch. The
vocoder's waveform is resampled to the requested rate when the two differ and cut or padded to length.
"""

from __future__ import annotations

import numpy as np
import torch

from soundflow.devices import pick_device
from tasks.text_to_audio.generators import ClipRequest, fit_samples


def load_pipeline(model: str, device: torch.device):
    """The pipeline from the hub id or local folder ``model``, on ``device`` (fp16 on CUDA)."""
    from diffusers import AudioLDM2Pipeline

    dtype = torch.float16 if device.type == "cuda" else torch.float32
    pipe = AudioLDM2Pipeline.from_pretrained(model, dtype=dtype)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


class AudioLdm2Generator:
    name = "audioldm2"

    def __init__(
        self, model: str, steps: int, guidance_scale: float, negative_prompt: str | None, device: str = "auto"
    ) -> None:
        self.model, self.steps, self.guidance_scale = model, steps, guidance_scale
        self.negative_prompt = negative_prompt
        self.device = pick_device(device)
        self._pipe = None

    def identity(self) -> dict[str, object]:
        return {
            "generator": self.name,
            "model": self.model,
            "steps": self.steps,
            "guidance_scale": self.guidance_scale,
            "negative_prompt": self.negative_prompt,
        }

    @property
    def pipe(self):
        if self._pipe is None:  # loaded on first use: a resumed run with nothing left to do never loads it
            self._pipe = load_pipeline(self.model, self.device)
        return self._pipe

    def generate(self, requests: list[ClipRequest], seconds: float, sample_rate: int) -> list[np.ndarray]:
        pipe = self.pipe
        generators = [torch.Generator(self.device).manual_seed(r.seed) for r in requests]
        negative = [self.negative_prompt] * len(requests) if self.negative_prompt else None
        audios = pipe(
            prompt=[r.prompt for r in requests],
            negative_prompt=negative,
            num_inference_steps=self.steps,
            guidance_scale=self.guidance_scale,
            audio_length_in_s=seconds,
            generator=generators,
            output_type="np",
        ).audios
        rate = int(pipe.vocoder.config.sampling_rate)
        n = round(seconds * sample_rate)
        return [fit_samples(_resample(np.asarray(a, dtype=np.float32), rate, sample_rate), n) for a in audios]


def _resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return wave
    import librosa

    return librosa.resample(wave, orig_sr=rate, target_sr=target)
