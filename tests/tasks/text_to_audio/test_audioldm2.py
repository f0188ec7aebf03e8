"""The ``audioldm2`` generator end to end on a tiny, randomly initialised pipeline built offline."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from tasks.text_to_audio.audioldm2 import AudioLdm2Generator
from tasks.text_to_audio.generate import generate_clips
from tasks.text_to_audio.generators import ClipRequest, clip_seed
from tests.helpers.audioldm2 import save_tiny_pipeline
from tests.helpers.t2a import t2a_params, tiny_real

SECONDS = 0.064  # the tiny VAE and vocoder make 1024 samples at 16 kHz per 64 ms


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_tiny_pipeline(tmp_path_factory.mktemp("tiny_audioldm2"))


@pytest.mark.slow
def test_prompts_to_files_offline(
    model_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, one_torch_thread: None
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    real = tiny_real(tmp_path / "real", clips_per_class=3, n_folds=3)
    audioldm2 = {"model": str(model_dir), "steps": 2, "guidance_scale": 3.5, "device": "cpu"}
    t = t2a_params(
        real,
        generate={"generator": "audioldm2", "seconds": SECONDS, "multipliers": [1.0], "audioldm2": audioldm2},
    )
    counts = generate_clips(real, t.real, Path(t.prompts), t.generate, tmp_path / "gen", progress=False)
    assert counts["generated"] == 3 * 3
    meta = pd.read_csv(tmp_path / "gen/metadata/UrbanSound8K.csv")
    wave, sr = sf.read(tmp_path / "gen/audio" / f"fold{meta.fold[0]}" / meta.slice_file_name[0])
    assert sr == 16000 and len(wave) == round(SECONDS * 16000) and np.abs(wave).max() > 0
    assert 20 * np.log10(np.sqrt(np.mean(wave**2))) == pytest.approx(-26.0, abs=0.5)  # loudness normalised
    # resumed: nothing left to generate, so the pipeline is not even loaded
    again = generate_clips(real, t.real, Path(t.prompts), t.generate, tmp_path / "gen", progress=False)
    assert again["generated"] == 0 and again["reused"] == counts["clips"]


def test_a_clip_depends_on_its_seed_not_on_its_batch(model_dir: Path, one_torch_thread: None) -> None:
    gen = AudioLdm2Generator(str(model_dir), steps=2, guidance_scale=3.5, negative_prompt="low quality", device="cpu")
    prompts = ["A clear sound of a siren in an urban context", "A clear sound of a dog barking in an urban context"]
    reqs = [ClipRequest("x", p, k, clip_seed(0, p, k)) for k, p in enumerate(prompts)]
    batch = gen.generate(reqs, SECONDS, 16000)
    alone = gen.generate(reqs[1:], SECONDS, 16000)
    np.testing.assert_allclose(batch[1], alone[0], atol=1e-6)
    assert np.abs(batch[0] - batch[1]).max() > 1e-6
    assert gen.generate(reqs[:1], SECONDS, 22050)[0].shape == (round(SECONDS * 22050),)  # resampled to the rate asked
