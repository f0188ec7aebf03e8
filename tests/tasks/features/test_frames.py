import numpy as np
import pytest
import torch

from tasks.features.frames import IMAGENET_MEAN, IMAGENET_STD, imagenet_normalise, resize_frames


def test_resize_shapes_dtype_range() -> None:
    rng = np.random.default_rng(0)
    imgs = rng.integers(0, 256, size=(3, 480, 640, 3), dtype=np.uint8)
    out = resize_frames(imgs)
    assert out.shape == (3, 256, 256, 3) and out.dtype == np.uint8
    assert resize_frames(imgs[:, :100, :50], size=64).shape == (3, 64, 64, 3)  # upscaling too
    # antialiased downscale of noise averages: much smaller spread than the input
    assert out.astype(float).std() < imgs.astype(float).std() / 2


def test_constant_image_stays_constant() -> None:
    imgs = np.zeros((2, 300, 500, 3), dtype=np.uint8)
    imgs[..., 0], imgs[..., 1], imgs[..., 2] = 10, 128, 250
    out = resize_frames(imgs)
    assert np.all(out[..., 0] == 10) and np.all(out[..., 1] == 128) and np.all(out[..., 2] == 250)


def test_rejects_bad_input() -> None:
    with pytest.raises(ValueError):
        resize_frames(np.zeros((2, 10, 10, 3), dtype=np.float32))
    with pytest.raises(ValueError):
        imagenet_normalise(np.zeros((10, 10, 3), dtype=np.uint8))


def test_imagenet_normalise_by_hand() -> None:
    img = np.zeros((1, 2, 2, 3), dtype=np.uint8)
    img[0, 0, 1] = (255, 0, 51)
    out = imagenet_normalise(img)
    assert out.shape == (1, 3, 2, 2) and out.dtype == torch.float32
    # pixel (0, 1): R = (1 - 0.485) / 0.229 = 2.24891, G = (0 - 0.456) / 0.224 = -2.03571,
    # B = (0.2 - 0.406) / 0.225 = -0.91556
    assert torch.allclose(out[0, :, 0, 1], torch.tensor([2.24891, -2.03571, -0.91556]), atol=1e-4)
    zero = torch.tensor([-m / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)])
    assert torch.allclose(out[0, :, 0, 0], zero, atol=1e-6)
    assert torch.allclose(imagenet_normalise(torch.from_numpy(img)), out)
