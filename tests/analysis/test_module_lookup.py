"""The module graph answers `import <dotted>` without trying every spelling when a part of the name
is no part of any repo module (`torch.nn`, `pkg.utils.seed_all`), and once per folder and name:
it must give exactly the answer of trying the importer's folder, each parent, then the root."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlaudit.analysis.modules import ModuleGraph, _search_prefixes

PARTS = ("pkg", "utils", "models", "train", "torch", "nn", "src", "a")
dotted = st.lists(st.sampled_from(PARTS), min_size=1, max_size=4).map(".".join)
folders = st.lists(st.sampled_from(PARTS), max_size=3).map(lambda parts: "/".join(parts) or ".")


def plain_lookup(by_name: dict[str, str], folder: str, name: str) -> str | None:
    """The definition: the first of folder, parents, root where the dotted name is a module."""
    return next((by_name[p + name] for p in _search_prefixes(folder) if p + name in by_name), None)


@settings(max_examples=300, deadline=None)
@given(st.lists(dotted, max_size=8), st.lists(st.tuples(folders, dotted), min_size=1, max_size=20))
def test_module_look_up_equals_trying_every_spelling(modules: list[str], queries: list[tuple[str, str]]) -> None:
    by_name = {name: f"{name.replace('.', '/')}.py" for name in modules}
    graph = ModuleGraph({}, by_name)
    for folder, name in queries + queries:  # asked twice: the memoised answer too
        assert graph.module_in(folder, name) == plain_lookup(by_name, folder, name)
        importer = f"{folder}/x.py" if folder != "." else "x.py"
        assert graph.module_path(importer, name) == plain_lookup(by_name, folder, name)
