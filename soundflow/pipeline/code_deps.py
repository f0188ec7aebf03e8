"""The source files a stage executes: the static import closure of its task code inside the repository.

A stage must rerun when code it runs changes, and hand-kept lists of files go stale as soon as a module
gains an import. So ``dvc.yaml`` lists, for each stage, every repository file reachable from the stage's
``run`` function by ``import`` statements, found with :mod:`ast` (nothing is imported to find them):

- statements at any depth count, including imports inside functions (modules imported lazily still run);
- ``from pkg import name`` adds ``pkg/name.py`` when ``name`` is a submodule, else only ``pkg`` itself;
- importing ``a.b.c`` runs ``a/__init__.py`` and ``a/b/__init__.py`` first, so those count too;
- relative imports are resolved against the importing module; modules outside the repository
  (standard library, third-party) are ignored, as are imports by computed name (``importlib``).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

# One import statement's target: ("a.b", ()) for ``import a.b``; ("a", ("b", "c")) for ``from a import b, c``.
Target = tuple[str, tuple[str, ...]]

# path -> (file version, syntax tree, import targets): dag.upstream asks for every closure several times a command
_PARSED: dict[Path, tuple[tuple[int, int], ast.Module, tuple[Target, ...]]] = {}


def module_file(root: Path, name: str) -> Path | None:
    """The file of module ``name`` under ``root`` (``a/b.py`` or ``a/b/__init__.py``); None outside the repository."""
    base = Path(root).joinpath(*name.split("."))
    for candidate in (base.parent / f"{base.name}.py", base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from ... import`` names, with relative levels resolved against the importer's package."""
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    if node.level - 1 > len(parts):
        raise ValueError(f"relative import (level {node.level}) beyond the top-level package {package!r}")
    base = parts[: len(parts) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def import_targets(node: ast.AST, package: str) -> list[Target]:
    """The targets of every import statement at any depth under ``node``."""
    found: list[Target] = []
    for sub in ast.walk(node):
        if isinstance(sub, ast.Import):
            found += [(alias.name, ()) for alias in sub.names]
        elif isinstance(sub, ast.ImportFrom):
            found.append((_absolute(sub, package), tuple(alias.name for alias in sub.names)))
    return found


def _parsed(path: Path, module: str) -> tuple[ast.Module, tuple[Target, ...]]:
    """The file's syntax tree and import targets, parsed again only when the file changed."""
    stat = path.stat()
    # ctime too: an edit that keeps the size and restores the mtime (cp -p, rsync -a) still changes it
    version = (stat.st_ino, stat.st_mtime_ns, stat.st_ctime_ns, stat.st_size)
    cached = _PARSED.get(path)
    if cached is None or cached[0] != version:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        try:
            targets = tuple(import_targets(tree, _package_of(module, path.name == "__init__.py")))
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None
        cached = (version, tree, targets)
        _PARSED[path] = cached
    return cached[1], cached[2]


def _modules_of(target: Target, find: Callable[[str], Path | None]) -> list[str]:
    """The repository modules that executing ``target`` imports: the named module, its parents, submodules named."""
    base, names = target
    parts = base.split(".") if base else []
    mods = [".".join(parts[: i + 1]) for i in range(len(parts))]
    mods += [f"{base}.{n}" if base else n for n in names if n != "*"]
    return [m for m in mods if find(m) is not None]


def import_closure(targets: Iterable[Target], root: Path) -> list[str]:
    """Sorted posix paths, relative to ``root``, of every repository file the targets import, transitively."""
    root = Path(root)
    files: dict[str, Path | None] = {}

    def find(module: str) -> Path | None:  # memoised: most modules are named by many imports
        if module not in files:
            files[module] = module_file(root, module)
        return files[module]

    todo = [m for t in targets for m in _modules_of(t, find)]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo += [m for t in _parsed(find(module), module)[1] for m in _modules_of(t, find)]
    return sorted(find(m).relative_to(root).as_posix() for m in seen)


def _bindings(tree: ast.Module, package: str) -> dict[str, Target]:
    """Names a module binds at its top level by importing, with what binding them imports."""
    bound: dict[str, Target] = {}
    for node in tree.body:
        if isinstance(node, ast.Import):
            for a in node.names:
                bound[a.asname or a.name.partition(".")[0]] = (a.name, ())
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node, package)
            bound.update({a.asname or a.name: (base, (a.name,)) for a in node.names if a.name != "*"})
    return bound


def _reached(fn: Callable[..., object]) -> tuple[Path, dict[str, ast.AST], list[str], list[Target]]:
    """Walk ``fn`` and the functions and classes of its own module that it uses, transitively.

    Returns the module's file, its top-level definitions, the names of those reached (in visiting order)
    and the import targets they execute: the imports in their bodies and the module-level imports of names
    they use. Annotations of ``fn``'s arguments are not code it runs (postponed evaluation never runs them).
    """
    path = Path(inspect.getfile(sys.modules[fn.__module__]))
    tree = _parsed(path, fn.__module__)[0]
    defs = {n.name: n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    if fn.__name__ not in defs or fn.__qualname__ != fn.__name__:
        raise ValueError(f"{fn.__module__}.{fn.__qualname__}: a stage runs a module-level function")
    package = _package_of(fn.__module__, path.name == "__init__.py")
    bound = _bindings(tree, package)
    found: list[Target] = []
    todo, seen = [fn.__name__], []
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.append(name)
        for stmt in defs[name].body:
            found += import_targets(stmt, package)
            for node in ast.walk(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
                    if node.id in defs:
                        todo.append(node.id)
                    elif node.id in bound:
                        found.append(bound[node.id])
    return path, defs, seen, found


def function_targets(fn: Callable[..., object]) -> list[Target]:
    """What calling ``fn`` imports (see :func:`_reached`)."""
    return _reached(fn)[3]


def source_digest(fn: Callable[..., object]) -> str:
    """A short hash of the source of ``fn`` and of the functions of its module it uses, transitively.

    The stage table's module is not a code dependency of the stages it declares (any edit of one row
    would rerun them all), yet each ``run`` lives there: this digest, put into the stage's command, makes
    an edit of the run function or of a helper it calls rerun exactly the stages that execute it.
    """
    path, defs, seen, _ = _reached(fn)
    text = path.read_text(encoding="utf-8")
    digest = hashlib.sha256()
    for name in sorted(seen):
        digest.update(f"{name}\0{ast.get_source_segment(text, defs[name])}\0".encode())
    return digest.hexdigest()[:12]


def repository_root(fn: Callable[..., object]) -> Path:
    """The folder holding the top-level package of ``fn``'s module."""
    path = Path(inspect.getfile(sys.modules[fn.__module__])).resolve()
    depth = fn.__module__.count(".") + (1 if path.name == "__init__.py" else 0)
    return path.parents[depth]


def code_closure(fn: Callable[..., object], table_module: str) -> tuple[str, ...]:
    """Every repository file that running ``fn`` imports. ``fn``'s own module counts unless it is
    ``table_module`` (the module that only declares stages), whose helpers are followed function by function.

    The other modules of ``table_module``'s package are declaration tables too (one per workflow): a path one
    of them declares (localisation naming the AED checkpoint) reaches the stage as a ``dvc.yaml`` dependency,
    not as code, so importing it adds nothing and editing that workflow reruns none of this one's stages."""
    tables = table_module.rpartition(".")[0] + "."
    targets = [t for t in function_targets(fn) if not t[0].startswith(tables)]
    if fn.__module__ != table_module:
        targets.append((fn.__module__, ()))
    return tuple(import_closure(targets, repository_root(fn)))


def as_dvc_deps(files: Iterable[str], root: Path) -> list[str]:
    """``files`` (repository paths, sorted) as ``dvc.yaml`` lists them: a folder in place of its files where
    the closure holds every file of it and the folder holds nothing else (no subfolder, no other file;
    ``__pycache__`` is in ``.dvcignore``).

    The same files rerun the same stages, but DVC rewrites the whole ``dvc.lock`` with a pure-Python YAML
    round trip after every stage it runs, and the code files are nine in ten of its entries: ``models/``
    alone, complete in 24 stages' closures, is 14 entries each."""
    by_folder: dict[str, list[str]] = {}
    for f in files:
        by_folder.setdefault(str(Path(f).parent), []).append(f)
    out: list[str] = []
    for folder, listed in by_folder.items():
        complete = folder != "." and _only_these(Path(root) / folder, {Path(f).name for f in listed})
        out += [folder] if complete else listed
    return sorted(out)


def _only_these(folder: Path, names: set[str]) -> bool:
    entries = [p for p in folder.iterdir() if p.name != "__pycache__"]
    return all(p.is_file() for p in entries) and {p.name for p in entries} == names
