"""A tiny, randomly initialised AudioLDM2 pipeline built offline, saved as a local model folder.

The components follow diffusers' own fast tests of ``AudioLDM2Pipeline`` (``get_dummy_components``: UNet,
DDIM scheduler, VAE, CLAP, T5, GPT-2, projection model, HiFi-GAN vocoder), with the language model as
``GPT2LMHeadModel``, the class current diffusers expects. Those tests download three tiny tokenizers and a
feature extractor from the hub; here the tokenizers are trained on a few sentences with the ``tokenizers``
library (byte-level BPE for CLAP's RoBERTa tokenizer, Unigram for T5's) and the ``ClapFeatureExtractor`` is
built from its configuration, so nothing is fetched (``HF_HUB_OFFLINE=1`` holds).
"""

from __future__ import annotations

from pathlib import Path

import torch

CORPUS = [
    "A clear sound of a dog barking in an urban context",
    "A high-quality recording of a siren, the wailing tone of an emergency vehicle, heard outdoors",
    "an air conditioner humming, a car horn, children playing, a drill, an idling engine, a jackhammer",
    "a gunshot, street music, low quality, average quality, noise",
]


def _roberta_tokenizer():
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]  # ids 0-4, as CLAP's text config expects
    bpe.train_from_iterator(CORPUS, vocab_size=400, min_frequency=1, special_tokens=specials, show_progress=False)
    model = bpe._tokenizer.model
    vocab = bpe.get_vocab()
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in _merges(model)]
    return RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=77)


def _merges(model) -> list:
    import json

    return json.loads(model.__class__.__getstate__(model))["merges"]


def _t5_tokenizer():
    from tokenizers import SentencePieceUnigramTokenizer
    from transformers import T5Tokenizer

    uni = SentencePieceUnigramTokenizer()
    uni.train_from_iterator(
        CORPUS, vocab_size=120, special_tokens=["<pad>", "</s>", "<unk>"], unk_token="<unk>", show_progress=False
    )
    import json

    pieces = json.loads(uni._tokenizer.model.__getstate__())["vocab"]
    return T5Tokenizer(vocab=[(p, float(s)) for p, s in pieces], model_max_length=77, extra_ids=0)


def tiny_components() -> dict[str, object]:
    from diffusers import AudioLDM2ProjectionModel, AudioLDM2UNet2DConditionModel, AutoencoderKL, DDIMScheduler
    from transformers import (
        ClapAudioConfig,
        ClapConfig,
        ClapFeatureExtractor,
        ClapModel,
        ClapTextConfig,
        GPT2Config,
        GPT2LMHeadModel,
        SpeechT5HifiGan,
        SpeechT5HifiGanConfig,
        T5Config,
        T5EncoderModel,
    )

    torch.manual_seed(0)
    unet = AudioLDM2UNet2DConditionModel(
        block_out_channels=(32, 64),
        layers_per_block=2,
        sample_size=32,
        in_channels=4,
        out_channels=4,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=([None, 16, 32], [None, 16, 32]),
    )
    scheduler = DDIMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False, set_alpha_to_one=False
    )
    torch.manual_seed(0)
    vae = AutoencoderKL(
        block_out_channels=[32, 64],
        in_channels=1,
        out_channels=1,
        down_block_types=["DownEncoderBlock2D", "DownEncoderBlock2D"],
        up_block_types=["UpDecoderBlock2D", "UpDecoderBlock2D"],
        latent_channels=4,
    )
    torch.manual_seed(0)
    text = ClapTextConfig(
        bos_token_id=0,
        eos_token_id=2,
        hidden_size=16,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        num_attention_heads=2,
        num_hidden_layers=2,
        pad_token_id=1,
        vocab_size=1000,
        projection_dim=16,
    )
    audio = ClapAudioConfig(
        spec_size=64,
        window_size=4,
        num_mel_bins=64,
        intermediate_size=37,
        layer_norm_eps=1e-05,
        depths=[2, 2],
        num_attention_heads=[2, 2],
        num_hidden_layers=2,
        hidden_size=192,
        projection_dim=16,
        patch_size=2,
        patch_stride=2,
        patch_embed_input_channels=4,
    )
    clap = ClapConfig(text_config=text.to_dict(), audio_config=audio.to_dict(), projection_dim=16)
    text_encoder = ClapModel(clap)
    torch.manual_seed(0)
    text_encoder_2 = T5EncoderModel(T5Config(vocab_size=32100, d_model=32, d_ff=37, d_kv=8, num_heads=2, num_layers=2))
    torch.manual_seed(0)
    lm_config = GPT2Config(n_embd=16, n_head=2, n_layer=2, vocab_size=1000, n_ctx=99, n_positions=99)
    language_model = GPT2LMHeadModel(lm_config)
    language_model.config.max_new_tokens = 8
    torch.manual_seed(0)
    projection_model = AudioLDM2ProjectionModel(text_encoder_dim=16, text_encoder_1_dim=32, langauge_model_dim=16)
    vocoder = SpeechT5HifiGan(
        SpeechT5HifiGanConfig(
            model_in_dim=8,
            sampling_rate=16000,
            upsample_initial_channel=16,
            upsample_rates=[2, 2],
            upsample_kernel_sizes=[4, 4],
            resblock_kernel_sizes=[3, 7],
            resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5]],
            normalize_before=False,
        )
    )
    return {
        "unet": unet,
        "scheduler": scheduler,
        "vae": vae,
        "text_encoder": text_encoder,
        "text_encoder_2": text_encoder_2,
        "tokenizer": _roberta_tokenizer(),
        "tokenizer_2": _t5_tokenizer(),
        "feature_extractor": ClapFeatureExtractor(feature_size=64, sampling_rate=48000, hop_length=7900),
        "language_model": language_model,
        "projection_model": projection_model,
        "vocoder": vocoder,
    }


def save_tiny_pipeline(folder: Path) -> Path:
    """Build the tiny pipeline and ``save_pretrained`` it into ``folder`` (a model folder our code loads)."""
    from diffusers import AudioLDM2Pipeline

    AudioLDM2Pipeline(**tiny_components()).save_pretrained(folder)
    return Path(folder)
