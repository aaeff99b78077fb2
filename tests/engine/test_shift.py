"""Moving the last run's project findings when an edit only moved lines (mlaudit.engine.shift)."""

from __future__ import annotations

from pathlib import Path

from mlaudit.engine.per_file import analyse_file
from mlaudit.engine.shift import line_map, shift
from mlaudit.facts.file import FileFacts
from mlaudit.files.kinds import classify
from mlaudit.files.sources import SourceFile
from mlaudit.findings import Finding, RelatedLocation

MODULE = """import torch


def build():
    return torch.nn.Linear(2, 2)


def train(model):
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    opt.step()
"""


def facts(tmp_path: Path, text: str, name: str = "model.py") -> FileFacts:
    path = tmp_path / name
    path.write_text(text)
    file = SourceFile(name, path, classify(name), path.stat().st_size, None)
    return analyse_file(file, [], [], 2**20).facts


def test_a_line_inserted_moves_the_lines_below_it_only(tmp_path: Path) -> None:
    lines = MODULE.splitlines(keepends=True)
    moved = line_map(facts(tmp_path, MODULE), facts(tmp_path, "".join([*lines[:6], "# a comment\n", *lines[6:]])))
    assert moved is not None
    assert moved[1] == 1 and moved[4] == 4 and moved[5] == 5  # above the insertion
    assert moved[8] == 9 and moved[10] == 11  # below it


def test_a_line_removed_moves_the_lines_below_it_up(tmp_path: Path) -> None:
    moved = line_map(facts(tmp_path, MODULE), facts(tmp_path, MODULE.replace("\n\n\ndef train", "\n\ndef train")))
    assert moved is not None
    assert moved[8] == 7


def test_any_other_change_is_no_line_move(tmp_path: Path) -> None:
    before = facts(tmp_path, MODULE)
    assert line_map(before, facts(tmp_path, MODULE.replace("lr=0.1", "lr=0.1, momentum=0.9"))) is None
    assert line_map(before, facts(tmp_path, MODULE.replace("Linear", "Conv1d"))) is None
    assert line_map(before, facts(tmp_path, MODULE.replace("    return", "    print(1)\n    return"))) is None
    # A statement the facts do not record is, for the project rules, lines moved.
    assert line_map(before, facts(tmp_path, MODULE.replace("    return", "    x = 1\n    return"))) is not None


def test_a_line_inserted_above_line_1_is_no_line_move(tmp_path: Path) -> None:
    """A finding on line 1 may mean "no better line", which no edit moves: when the facts' line 1
    moves, the two cannot be told apart, so the project rules run again."""
    assert line_map(facts(tmp_path, MODULE), facts(tmp_path, "# header\n" + MODULE)) is None


def test_lines_swapped_are_no_line_move(tmp_path: Path) -> None:
    """Two statements swapped keep every fact but their order, which rules compare."""
    text = "import random\n\nrandom.seed(0)\nrandom.random()\n"
    swapped = "import random\n\nrandom.random()\nrandom.seed(0)\n"
    assert line_map(facts(tmp_path, text), facts(tmp_path, swapped)) is None


def test_shift_moves_positions_cited_lines_and_related_locations() -> None:
    maps = {"src/model.py": {1: 1, 7: 9, 8: 10}, "train.py": {3: 3}}
    findings = [
        Finding("ML101", "train.py draws (`Linear()` line 7) at src/model.py:7, reached from line 3", "train.py", 3),
        Finding("ML301", "flag set at src/model.py:8 (lines 7-8)", "src/model.py", 7, end_line=8,
                related=(RelatedLocation("src/model.py", 8, 1, "see src/model.py:7"),)),
        Finding("ML501", "untouched", "pyproject.toml", 4),
    ]
    moved = shift(findings, maps)
    assert moved is not None
    assert moved[0].message == "train.py draws (`Linear()` line 7) at src/model.py:9, reached from line 3"
    assert (moved[1].line, moved[1].end_line, moved[1].message) == (9, 10, "flag set at src/model.py:10 (lines 9-10)")
    assert moved[1].related == (RelatedLocation("src/model.py", 10, 1, "see src/model.py:9"),)
    assert moved[2] is findings[2]


def test_shift_gives_up_on_a_line_the_facts_do_not_hold() -> None:
    """A line no fact holds cannot be moved with confidence: the project rules run again."""
    maps = {"src/model.py": {7: 9}}
    assert shift([Finding("ML101", "at src/model.py:5", "train.py", 3)], maps) is None
    assert shift([Finding("ML101", "x", "src/model.py", 6)], maps) is None
    assert shift([Finding("ML101", "x", "src/model.py", 1)], maps) is not None  # line 1 stays


def test_a_path_that_ends_like_a_changed_one_is_not_moved() -> None:
    maps = {"model.py": {7: 9}}
    moved = shift([Finding("ML101", "at src/model.py:7 and model.py:7", "train.py", 3)], maps)
    assert moved is not None and moved[0].message == "at src/model.py:7 and model.py:9"
