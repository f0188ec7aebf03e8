"""Real datasets: the registry, download, safe extraction and one recipe per corpus (``corpora/``).

The generated ones (urban sounds, street scenes, the sound library) are in :mod:`tasks.procedural`.
"""
