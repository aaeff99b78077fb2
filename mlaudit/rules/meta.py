"""ML0xx: findings about mlaudit's own ability to read the project."""

from __future__ import annotations

from mlaudit.findings import Level
from mlaudit.rules.base import Rule


class UnparseableFile(Rule):
    """Reported by the per-file reader (`mlaudit.facts.analyse_file`), not by a visitor: a file
    mlaudit needs cannot be read, decoded or parsed. The run goes on without it."""

    code = "ML001"
    name = "unparseable-file"
    summary = "A file mlaudit needs could not be read or parsed"
    level = Level.ERROR
    tags = ("mlaudit",)
    invalid = (
        {"train.py": "def broken(:\n    pass\n"},
        {"conf/config.yaml": "model: [unclosed\n"},
        {"pyproject.toml": "[project\nname = 'x'\n"},
    )
    valid = ({"train.py": "print('ok')\n", "conf/config.yaml": "model: resnet\n"},)
