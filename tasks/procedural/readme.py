"""The README every procedural generator writes beside its data, in one layout.

A generated folder's README is part of the bytes DVC hashes, so its layout is fixed: the title (which
also marks the folder as the generator's own, see :func:`soundflow.io.generated_folder`), what the data is,
the generator and each parameter, a few counts, how each item is seeded, and the CC0 licence section.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from soundflow.io import CC0_README_SECTION


def generator_readme(
    title: str,
    about: Sequence[str],
    generator: str,
    params: Mapping[str, object],
    counts: Sequence[str],
    seeding: Sequence[str],
) -> str:
    """The README's text: ``about`` and ``seeding`` are paragraphs' lines, ``counts`` lines follow the
    ``- key: `value` `` list of ``params``."""
    return "\n".join(
        [
            title,
            "",
            *about,
            "",
            f"- Generator: {generator}",
            *(f"- {k}: `{v}`" for k, v in params.items()),
            *counts,
            "",
            *seeding,
            "",
            *CC0_README_SECTION,
        ]
    )
