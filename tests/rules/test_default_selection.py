"""Opt-in rules (Rule.opt_in): off unless selected by their full code, shown as such by `rule --all`."""

from __future__ import annotations

from pathlib import Path

from mlaudit.cli import rule_table
from mlaudit.engine.settings import Settings
from mlaudit.rules import all_rules
from tests.helpers import check, make_repo

OPT_IN = [r.code for r in all_rules() if r.opt_in and r.code.startswith(("ML1", "ML8"))]
LGBM = "import lightgbm as lgb\nmodel = lgb.LGBMClassifier(random_state=0)\n"


def test_there_are_opt_in_rules_and_they_are_all_measured_in_their_docs() -> None:
    assert "ML109" in OPT_IN
    for code in OPT_IN:
        doc = (Path(__file__).resolve().parents[2] / "rules" / f"{code}.md").read_text(encoding="utf-8")
        assert "Not in the default selection" in doc


def test_prefix_selection_leaves_opt_in_rules_off() -> None:
    settings = Settings()
    assert not settings.is_enabled("ML109")
    assert settings.is_enabled("ML110")
    settings = Settings(select=["ML1"])
    assert not settings.is_enabled("ML109")
    assert Settings(select=["ML109"]).is_enabled("ML109")
    assert Settings(extend_select=["ML109"]).is_enabled("ML109")
    assert not Settings(select=["ML109"], ignore=["ML109"]).is_enabled("ML109")


def test_default_run_skips_an_opt_in_rule_and_a_named_one_runs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": LGBM})
    assert "ML109" not in {f.code for f in check(repo).findings}
    assert "ML109" in {f.code for f in check(repo, select=["ML109"]).findings}


def test_rule_table_shows_default_status() -> None:
    lines = {line.split()[0]: line for line in rule_table().splitlines()}
    assert " opt-in " in lines["ML109"]
    assert " on " in lines["ML110"]
    assert "| default |" in rule_table(markdown=True)
