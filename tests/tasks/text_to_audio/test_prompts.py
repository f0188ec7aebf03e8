from pathlib import Path

import pytest

from tasks.procedural.urban_sounds import CLASSES
from tasks.text_to_audio.prompts import PromptFileError, load_prompts, parse_prompts

RAW = {
    "templates": ["A clear sound of {description} in an urban context", "{description}, {details}"],
    "classes": {"dog_bark": {"description": "a dog barking", "details": "sharp barks"}},
}


def test_templates_cycle_over_the_clips_of_a_class() -> None:
    book = parse_prompts(RAW)
    assert book.prompts("dog_bark", 3) == [
        "A clear sound of a dog barking in an urban context",
        "a dog barking, sharp barks",
        "A clear sound of a dog barking in an urban context",
    ]


def test_the_committed_file_has_a_prompt_for_every_class(root: Path) -> None:
    book = load_prompts(root / "configs/text_to_audio/prompts.yaml")
    assert set(book.classes) == set(CLASSES)
    assert book.prompt("siren", 0) == "A clear sound of a siren in an urban context"
    assert "{" not in book.prompt("siren", 1) and "siren" in book.prompt("siren", 1)


def test_a_class_missing_a_field_is_named() -> None:
    bad = {"templates": RAW["templates"], "classes": {"siren": {"description": "a siren"}}}
    with pytest.raises(PromptFileError, match=r"class 'siren' lacks field\(s\) \['details'\]"):
        parse_prompts(bad, "p.yaml")


def test_unknown_class_and_bad_files(tmp_path: Path) -> None:
    with pytest.raises(KeyError, match="no prompt for class 'jackhammer'"):
        parse_prompts(RAW).prompt("jackhammer", 0)
    with pytest.raises(PromptFileError, match="not found"):
        load_prompts(tmp_path / "none.yaml")
    (tmp_path / "p.yaml").write_text("templates: []\nclasses: {a: {}}\n")
    with pytest.raises(PromptFileError, match="non-empty list"):
        load_prompts(tmp_path / "p.yaml")
