"""Module naming: which dotted name a Python file of the repository is imported by.

Every layer that names a module asks here: the per-file facts (`ModuleFacts.module`), the module
graph (each spelling a file can be imported as) and the config index (the repo's own modules).
"""

from __future__ import annotations

from mlaudit.files.kinds import stem_parts


def module_parts(rel_path: str) -> tuple[list[str], bool]:
    """The parts of a file's dotted name as its path spells it (`a/b/c.py` is a, b, c; a package's
    `__init__` is named by its folder), and whether it is a package `__init__`. Parts need not be
    identifiers: callers decide what an unimportable folder name means."""
    parts = stem_parts(rel_path)
    is_package = bool(parts) and parts[-1] == "__init__"
    return (parts[:-1] if is_package else parts), is_package


def module_name(rel_path: str) -> tuple[str, bool]:
    """Dotted module name for a Python file, and whether it is a package `__init__`.

    A `src/` layout is stripped (`src/pkg/a.py` is `pkg.a`). Folders need not be packages: a
    script in `examples/mnist/main.py` is named `examples.mnist.main`; the module graph also
    resolves its sibling imports the way `python main.py` would.
    """
    parts, is_package = module_parts(rel_path)
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if any(not p.isidentifier() for p in parts):
        return "", is_package
    return ".".join(parts), is_package
