"""Short test videos with an audio track, written with PyAV (the library the video reader uses)."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np


def write_video(path: Path, seconds: int, fps: int = 10, sample_rate: int = 22050, size: tuple[int, int] = (80, 60)):
    """A lossless video (FFV1 + 16-bit PCM in Matroska): second ``i`` is a flat frame of colour
    ``colours[i]`` and a sine of ``220 * (i + 1)`` Hz. Returns (colours (seconds, 3) uint8, audio int16)."""
    w, h = size
    colours = np.array([[40 + 60 * i % 200, 200 - 50 * i % 180, 30 * i % 250] for i in range(seconds)], np.uint8)
    t = np.arange(sample_rate * seconds) / sample_rate
    wave = (0.5 * np.sin(2 * np.pi * 220 * (1 + t // 1) * t) * 32767).astype(np.int16)
    with av.open(str(path), "w") as c:
        v = c.add_stream("ffv1", rate=fps)
        v.width, v.height, v.pix_fmt = w, h, "bgr0"
        a = c.add_stream("pcm_s16le", rate=sample_rate)
        a.layout = "mono"
        for i in range(fps * seconds):
            frame = np.broadcast_to(colours[i // fps], (h, w, 3)).copy()
            for packet in v.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                c.mux(packet)
        c.mux(v.encode())
        for s in range(0, len(wave), 1024):
            frame = av.AudioFrame.from_ndarray(wave[None, s : s + 1024], format="s16", layout="mono")
            frame.sample_rate, frame.pts = sample_rate, s
            c.mux(a.encode(frame))
        c.mux(a.encode())
    return colours, wave
