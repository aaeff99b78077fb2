"""Facts that hold records by the thousand pickle them as plain tuples (mlaudit.facts.records)."""

from __future__ import annotations

import pickle

import pytest

from mlaudit.facts.python import CallFact, DefFact, ImportFact, ModuleFacts
from mlaudit.facts.randomness import CALL, SEED, RandEvent, RandomnessFacts


def _module_facts() -> ModuleFacts:
    events = (RandEvent(SEED, "torch.manual_seed", 3, "main", families=("torch",)),
              RandEvent(CALL, "pkg.train", 4, "main", text="train", note=""))
    return ModuleFacts(
        module="pkg.run",
        is_package=False,
        imports=(ImportFact("torch", "torch", 1), ImportFact("", "pkg", 2, star=True)),
        defs=(DefFact("main", "function", 3, 9, decorators=("click.command",), params=("seed",)),),
        calls=(CallFact("torch.manual_seed", "torch.manual_seed", 3, 5, "main", False, ("seed",)),
               CallFact(None, None, 4, 5, "main", True)),
        main_guard_line=10,
        families={RandomnessFacts: RandomnessFacts(events=events, module_vars=(("app", "typer.Typer"),))},
    )


def test_facts_come_back_equal_with_their_record_types() -> None:
    facts = _module_facts()
    back = pickle.loads(pickle.dumps(facts, protocol=pickle.HIGHEST_PROTOCOL))
    assert back == facts
    assert [type(r) for r in (*back.imports, *back.defs, *back.calls)] == [ImportFact, ImportFact, DefFact, CallFact, CallFact]
    events = back.family(RandomnessFacts).events  # type: ignore[union-attr]
    assert {type(e) for e in events} == {RandEvent} and events[0].families == ("torch",)


def test_records_are_pickled_without_a_python_call_each(monkeypatch: pytest.MonkeyPatch) -> None:
    """A NamedTuple pickles through its Python `__getnewargs__`; the facts must not go that way."""
    def refuse(self: object) -> tuple[object, ...]:
        raise AssertionError(f"{type(self).__name__} pickled one by one")

    for kind in (ImportFact, DefFact, CallFact, RandEvent):
        monkeypatch.setattr(kind, "__getnewargs__", refuse)
    assert pickle.loads(pickle.dumps(_module_facts(), protocol=pickle.HIGHEST_PROTOCOL)) == _module_facts()
