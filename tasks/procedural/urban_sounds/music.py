"""Street music: a busker's melody on a drifting scale, sometimes with chords, bass and drums."""

from __future__ import annotations

import numpy as np

from tasks.procedural.urban_sounds.dsp import add_at, butter, harmonic_stack, ramp_envelope, rms, time_axis, unit_rms

_SCALES = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "pentatonic": (0, 2, 4, 7, 9),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
}


def _note(m: int, sr: int, freq: float, rng: np.random.Generator, instrument: str, brightness: float) -> np.ndarray:
    """One note: a plucked string (harmonics decaying faster the higher they are) or a sustained ADSR tone."""
    t = time_axis(m, sr)
    n_harm = max(1, min(20, int(0.45 * sr / freq)))
    kk = np.arange(1, n_harm + 1)
    base = 1.0 / kk**brightness
    f = np.full(m, freq) * (1.0 + 0.002 * np.sin(2 * np.pi * 5.0 * t))
    if instrument == "pluck":
        # Karplus-Strong-like spectrum: high partials lose energy fastest.
        decay = rng.uniform(1.5, 5.0)
        amps = [base[i] * np.exp(-t * decay * (1 + 0.3 * i)) for i in range(n_harm)]
        s = harmonic_stack(f, sr, amps, rng.uniform(0, 2 * np.pi))
        s *= ramp_envelope(m, sr, 0.002, 0.01)
        click = rng.standard_normal(min(m, int(0.004 * sr)))
        s[: click.size] += 0.3 * click * np.max(np.abs(s) + 1e-9)
        return s
    env = ramp_envelope(m, sr, rng.uniform(0.01, 0.06), rng.uniform(0.03, 0.15))
    env *= 1.0 - 0.3 * (1 - np.exp(-t / 0.1))  # decay to sustain level
    return harmonic_stack(f, sr, list(base), rng.uniform(0, 2 * np.pi)) * env


def street_music(n: int, sr: int, rng: np.random.Generator) -> np.ndarray:
    out = np.zeros(n)
    scale = _SCALES[str(rng.choice(list(_SCALES)))]
    root = rng.uniform(46.0, 62.0)  # MIDI, deliberately not on a tuned grid: street instruments drift
    beat = 60.0 / rng.uniform(70.0, 160.0)
    instrument = "pluck" if rng.random() < 0.55 else "tone"
    brightness = rng.uniform(0.8, 2.0)
    steps_per_beat = int(rng.choice((1, 2, 4), p=(0.3, 0.5, 0.2)))
    step = beat / steps_per_beat
    pattern = rng.random(int(rng.choice((4, 8)))) < rng.uniform(0.5, 0.9)
    pattern[0] = True

    def midi_to_hz(midi: float) -> float:
        return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)

    def degree_to_midi(d: int, octave: int) -> float:
        return root + 12 * (octave + d // len(scale)) + scale[d % len(scale)]

    t0 = int(rng.uniform(0.0, step) * sr)
    degree = int(rng.integers(0, len(scale)))
    i = 0
    while t0 < n:
        if pattern[i % pattern.size]:
            length = int(step * sr * (rng.uniform(1.0, 3.0) if instrument == "pluck" else rng.uniform(0.7, 1.0)))
            degree = int(np.clip(degree + rng.integers(-2, 3), -3, 2 * len(scale)))
            freq = midi_to_hz(degree_to_midi(degree, 1))
            add_at(out, rng.uniform(0.6, 1.0) * _note(max(length, 16), sr, freq, rng, instrument, brightness), t0)
        t0 += int(step * sr)
        i += 1
    level = rms(out)
    if rng.random() < 0.4:  # chords, one per bar
        chords = np.zeros(n)
        bar = int(4 * beat * sr)
        for b0 in range(0, n, max(bar, 1)):
            d = int(rng.integers(0, len(scale)))
            for j in (0, 2, 4):
                chords_note = _note(bar, sr, midi_to_hz(degree_to_midi(d + j, 0)), rng, "tone", brightness + 0.5)
                add_at(chords, chords_note, b0)
        out += rng.uniform(0.2, 0.6) * level * unit_rms(chords)
    if rng.random() < 0.5:  # bass on the beat
        bass = np.zeros(n)
        for b0 in range(0, n, max(int(beat * sr), 1)):
            d = int(rng.choice((0, 3, 4)))  # root, fourth/fifth degree: the usual bass moves
            add_at(bass, _note(int(beat * sr), sr, midi_to_hz(degree_to_midi(d, -1)), rng, "pluck", 2.0), b0)
        out += rng.uniform(0.3, 0.8) * level * unit_rms(bass)
    if rng.random() < 0.3:  # hand drum / kick on the beat, shaker off the beat
        drums = np.zeros(n)
        km = int(0.15 * sr)
        kt = time_axis(km, sr)
        kick = np.sin(2 * np.pi * np.cumsum(60.0 + 80.0 * np.exp(-kt / 0.03)) / sr) * np.exp(-kt / 0.05)
        hat = butter(rng.standard_normal(int(0.03 * sr)), "highpass", 5000.0, sr) * np.exp(
            -time_axis(int(0.03 * sr), sr) / 0.006
        )
        for b0 in range(0, n, max(int(beat * sr), 1)):
            add_at(drums, kick, b0)
            add_at(drums, 0.4 * hat, b0 + int(beat * sr / 2))
        out += rng.uniform(0.2, 0.7) * level * unit_rms(drums)
    return out
