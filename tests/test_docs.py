"""Comments cite papers and docs/methods.md, not a specification file outside the repository.

Code comments and docstrings once pointed at "the spec, section N", a document no reader of the repository
has; they now cite the paper and link a section of docs/methods.md. These tests keep it that way: no comment
or string of the packages names that spec, and every link to a section of docs/methods.md anywhere in the
repository names a heading that exists.
"""

from __future__ import annotations

import io
import re
import tokenize
from pathlib import Path

import pytest

from tests.helpers.paths import ROOT

METHODS = ROOT / "docs" / "methods.md"
PACKAGES = ("soundflow", "tasks", "models", "flows")
# Where links to the methods page may sit: code, tests, tools, configuration and the docs themselves.
LINK_SOURCES = ("soundflow", "tasks", "models", "flows", "tests", "benchmarks", "scripts", "configs", "docs")
LINK_FILES = ("README.md", "params.yaml", "Makefile", "pyproject.toml")

# "spec" as a word ("the spec", "spec section 2", "spec: ...", "the spec's"), "spec §", or the file's name.
# \b keeps "spectrogram", "spectral", "specific", "ShardSpec" and "timespec" out.
SPEC_CITATION = re.compile(r"\bspec\b|§|workflows\.md", re.IGNORECASE)
METHODS_LINK = re.compile(r"docs/methods\.md#([A-Za-z0-9_-]+)")
LOCAL_LINK = re.compile(r"\]\(#([A-Za-z0-9_-]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$")
EXPLICIT_ID = re.compile(r"\{#([A-Za-z0-9_-]+)\}\s*$")


def prose_tokens(source: str) -> list[tuple[int, str]]:
    """(line, text) of every comment and string literal (docstrings included) of a Python source."""
    kinds = {tokenize.COMMENT, tokenize.STRING}
    if hasattr(tokenize, "FSTRING_MIDDLE"):  # Python >= 3.12 splits f-strings into parts
        kinds.add(tokenize.FSTRING_MIDDLE)
    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return [(tok.start[0], tok.string) for tok in tokens if tok.type in kinds]


def spec_citations(path: Path) -> list[str]:
    """``path:line: text`` of each comment or string of ``path`` that cites the spec."""
    found: dict[int, str] = {}  # one report per line
    for line, text in prose_tokens(path.read_text(encoding="utf-8")):
        for m in SPEC_CITATION.finditer(text):
            lineno = line + text.count("\n", 0, m.start())
            snippet = text[max(0, m.start() - 30) : m.end() + 30].replace("\n", " ")
            found.setdefault(lineno, f"{path.relative_to(ROOT)}:{lineno}: ...{snippet}...")
    return list(found.values())


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]", "", heading).strip().lower()  # markup does not reach the anchor
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(markdown: str) -> set[str]:
    """Every anchor of a Markdown page's headings: ``{#id}`` where given, else GitHub's (with -1, -2 repeats)."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    in_code = False
    for line in markdown.splitlines():
        if line.startswith("```"):
            in_code = not in_code
        m = None if in_code else HEADING.match(line)
        if not m:
            continue
        explicit = EXPLICIT_ID.search(m.group(1))
        if explicit:
            out.add(explicit.group(1))
            continue
        slug = github_slug(m.group(1))
        out.add(f"{slug}-{seen[slug]}" if slug in seen else slug)
        seen[slug] = seen.get(slug, 0) + 1
    return out


def link_sources() -> list[Path]:
    files = [ROOT / name for name in LINK_FILES if (ROOT / name).is_file()]
    for folder in LINK_SOURCES:
        files += sorted(p for p in (ROOT / folder).rglob("*") if p.suffix in {".py", ".md", ".yaml", ".yml", ".toml"})
    return [p for p in files if "__pycache__" not in p.parts]


def test_slugs_follow_github() -> None:
    assert github_slug("ERFNet") == "erfnet"
    assert github_slug("ESC-50 and UrbanSound8K") == "esc-50-and-urbansound8k"
    assert github_slug("Image → soundscape (Scaper)") == "image--soundscape-scaper"
    assert anchors("## A\n```\n## Not a heading\n```\n## A\n### B {#bee}\n") == {"a", "a-1", "bee"}


def test_spec_citation_pattern_spares_ordinary_words() -> None:
    for text in ("spectrogram", "spectral", "specific", "ShardSpec", "timespec", "inspect", "respect"):
        assert not SPEC_CITATION.search(text), text
    for text in ("(spec section 1)", "the spec's 512 x 1024", "spec: 3", "spec §2", "shared/spec/workflows.md"):
        assert SPEC_CITATION.search(text), text


@pytest.mark.parametrize("package", PACKAGES)
def test_no_comment_cites_the_spec(package: str) -> None:
    found = [hit for path in sorted((ROOT / package).rglob("*.py")) for hit in spec_citations(path)]
    assert not found, "cite the paper and link docs/methods.md#<section> instead of the spec:\n" + "\n".join(found)


def test_every_methods_link_names_a_heading() -> None:
    page = METHODS.read_text(encoding="utf-8")
    known = anchors(page)
    links = {
        (path, anchor)
        for path in link_sources()
        for anchor in METHODS_LINK.findall(path.read_text(encoding="utf-8", errors="replace"))
    }
    links |= {(METHODS, anchor) for anchor in LOCAL_LINK.findall(page)}
    assert len({a for _, a in links}) >= 5, "the code should link the methods page's sections"
    broken = sorted(f"{path.relative_to(ROOT)}: #{anchor}" for path, anchor in links if anchor not in known)
    assert not broken, f"links to missing sections of {METHODS.relative_to(ROOT)} (has {sorted(known)}):\n" + "\n".join(
        broken
    )


def test_files_the_methods_page_names_exist() -> None:
    """Modules move; the page must follow them (``tasks/...``, ``models/...``, ``configs/...`` paths)."""
    page = METHODS.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:soundflow|tasks|models|flows|configs)/[\w./-]*)`", page))
    assert named, "the page should name the code of each method"
    missing = sorted(p for p in named if not (ROOT / p).exists())
    assert not missing, f"{METHODS.relative_to(ROOT)} names paths that do not exist: {missing}"
