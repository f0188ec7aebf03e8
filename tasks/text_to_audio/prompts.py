"""Text prompts per class, from a YAML file of templates and class descriptions (Ronchini et al., DCASE 2024).

The file holds ``templates`` (strings with ``{field}`` placeholders) and ``classes`` (per class name, the
fields the templates use). Clip ``k`` of a class is generated from template ``k mod len(templates)``, so
every template contributes the same share of clips and a class's clip ``k`` keeps its prompt when more
clips are asked for.
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path

import yaml

from soundflow.errors import UserError


class PromptFileError(UserError, ValueError):
    """A prompt file that cannot be used; the message names the file and the problem."""


@dataclass(frozen=True)
class PromptBook:
    templates: tuple[str, ...]
    classes: dict[str, dict[str, str]]

    def prompt(self, label: str, k: int) -> str:
        """The prompt of clip ``k`` of class ``label``."""
        if label not in self.classes:
            raise KeyError(f"no prompt for class {label!r}; the prompt file has {', '.join(self.classes)}")
        return self.templates[k % len(self.templates)].format(**self.classes[label])

    def prompts(self, label: str, n: int) -> list[str]:
        return [self.prompt(label, k) for k in range(n)]


def _fields(template: str, source: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(template) if name}
    except ValueError as err:  # an unmatched brace
        raise PromptFileError(f"{source}: template {template!r} is not a valid format string ({err})") from None


def _check_fills(book: PromptBook, source: str) -> None:
    """Fill every template for every class, as generation will: a bad conversion (``{x!z}``), format specifier or
    index is refused when the file is read, not in the middle of a generation run."""
    for label, fields in book.classes.items():
        for t in book.templates:
            try:
                t.format(**fields)
            except (ValueError, KeyError, IndexError, AttributeError, TypeError) as err:
                raise PromptFileError(
                    f"{source}: template {t!r} cannot be filled for class {label!r} ({type(err).__name__}: {err})"
                ) from None


def parse_prompts(raw: object, source: str = "<prompts>") -> PromptBook:
    """Check and wrap the parsed YAML: templates are non-empty strings, every class gives every field."""
    if not isinstance(raw, dict) or set(raw) != {"templates", "classes"}:
        raise PromptFileError(f"{source}: expected exactly the keys 'templates' and 'classes'")
    templates, classes = raw["templates"], raw["classes"]
    if not isinstance(templates, list) or not templates or not all(isinstance(t, str) and t for t in templates):
        raise PromptFileError(f"{source}: 'templates' must be a non-empty list of non-empty strings")
    if not isinstance(classes, dict) or not classes:
        raise PromptFileError(f"{source}: 'classes' must map each class name to its fields")
    needed = set().union(*(_fields(t, source) for t in templates))
    for label, fields in classes.items():
        if not isinstance(fields, dict):
            raise PromptFileError(f"{source}: class {label!r}: expected a mapping of fields, got {fields!r}")
        missing = needed - set(fields)
        if missing:
            raise PromptFileError(f"{source}: class {label!r} lacks field(s) {sorted(missing)} the templates use")
    book = PromptBook(tuple(templates), {str(k): {str(f): str(v) for f, v in d.items()} for k, d in classes.items()})
    _check_fills(book, source)
    return book


def load_prompts(path: Path) -> PromptBook:
    path = Path(path)
    if not path.is_file():
        raise PromptFileError(f"{path}: prompt file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise PromptFileError(f"{path}: not UTF-8 text (byte {err.start}: {err.reason})") from None
    except yaml.YAMLError as err:  # its message spans lines (the mark and a caret): one line here
        raise PromptFileError(f"{path}: not valid YAML ({' '.join(str(err).split())})") from err
    return parse_prompts(raw, str(path))
