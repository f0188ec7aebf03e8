"""Videos as audiovisual pairs: one frame per second with the matching seconds of audio (PyAV, FFmpeg's libraries).

Qian et al. (ECCV 2020) sample their videos' frames at 1 fps and pair each frame with the audio around it.
Second ``i`` of a video gives the frame shown at its middle (t = i + 0.5 s) and ``clip_seconds`` of audio
centred there (exactly second ``i`` for 1 s clips; zero-padded past either end), mixed to mono and
resampled to the log-mel's rate. Any container and codec FFmpeg decodes is read.
"""

from __future__ import annotations

import os

import av
import numpy as np

from soundflow.errors import UserError


class VideoError(UserError, ValueError):
    """A video that cannot be decoded (names the file)."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        super().__init__(f"{path}: {problem}")


def video_seconds(path: str | os.PathLike[str]) -> int:
    """Whole seconds of the video stream (the number of 1 fps frames it gives)."""
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoError(path, "no video stream")
            s = c.streams.video[0]
            dur = float(s.duration * s.time_base) if s.duration else (c.duration or 0) / av.time_base
    except (av.FFmpegError, ValueError) as err:  # ValueError: PyAV decoding a corrupt header's metadata
        if isinstance(err, VideoError):
            raise
        raise VideoError(path, f"not a decodable video ({err})") from None
    return int(dur + 1e-6)


def _frame_at(c: av.container.InputContainer, t: float) -> np.ndarray:
    stream = c.streams.video[0]
    c.seek(max(0, int((t - 1.0) / stream.time_base)), stream=stream, backward=True)  # a keyframe before t
    last = None
    for f in c.decode(stream):
        if f.time is not None and f.time > t + 1e-6 and last is not None:
            break
        last = f
    if last is None:
        raise ValueError("no frame decoded")
    return last.to_ndarray(format="rgb24")


def _audio_window(c: av.container.InputContainer, t0: float, n: int, sample_rate: int) -> np.ndarray:
    """``n`` mono samples from time ``t0`` (may be negative: zeros before the start, and after the end)."""
    out = np.zeros(n, np.float32)
    if not c.streams.audio:
        return out
    stream = c.streams.audio[0]
    c.seek(max(0, int((t0 - 1.0) / stream.time_base)), stream=stream, backward=True)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
    start, first = round(t0 * sample_rate), None
    for frame in c.decode(stream):
        for g in resampler.resample(frame):
            # samples are counted from the first decoded frame's time: containers round later timestamps
            # (Matroska to 1 ms), a frame's count of samples is exact
            first = round(g.time * sample_rate) - start if first is None else first
            x = g.to_ndarray().reshape(-1)
            lo, hi = max(0, first), min(n, first + len(x))
            if hi > lo:
                out[lo:hi] = x[lo - first : hi - first]
            first += len(x)
            if first >= n:
                return out
    return out


def read_video_second(
    path: str | os.PathLike[str], second: int, clip_seconds: float, sample_rate: int
) -> tuple[np.ndarray, np.ndarray]:
    """(frame (H, W, 3) uint8 at t = second + 0.5, mono float32 clip of ``clip_seconds`` centred there)."""
    t = second + 0.5
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise VideoError(path, "no video stream")
            frame = _frame_at(c, t)
            wave = _audio_window(c, t - clip_seconds / 2, round(clip_seconds * sample_rate), sample_rate)
    except (av.FFmpegError, ValueError) as err:
        if isinstance(err, VideoError):
            raise
        raise VideoError(path, f"second {second} not decodable ({err})") from None
    return frame, wave
