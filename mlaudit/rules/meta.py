"""ML0xx: findings about mlaudit's own ability to read the project."""

from __future__ import annotations

from mlaudit.findings import Level
from mlaudit.rules.base import Rule


class UnparseableFile(Rule):
    """Reported by the per-file reader (`mlaudit.engine.per_file.analyse_file`), not by a visitor: a file
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


class UnusedNoqa(Rule):
    """Reported by the suppression stage (`mlaudit.engine.suppress`), like ruff's RUF100: a `# noqa`
    code (or a file-level `# mlaudit: noqa: CODE`) that silenced nothing in this run. Off by
    default: enable it with `extend-select = ["ML002"]`."""

    code = "ML002"
    name = "unused-noqa"
    summary = "A noqa comment names a code that reports nothing there (off by default)"
    level = Level.WARNING
    tags = ("mlaudit",)
    opt_in = True
    invalid = (
        "import torch\ntorch.backends.cudnn.benchmark = False  # noqa: ML103  # expect: ML002\n",
        "# mlaudit: noqa: ML201  # expect: ML002\nx = 1\n",
        {"requirements.txt": "torch==2.6.0  # noqa: ML502  # expect: ML002\n"},
    )
    valid = (
        "# mlaudit: noqa\nx = 1\n",
        "x = 1  # noqa: E501\n",
        'def f():\n    """Example: `x = 1  # noqa: ML103`."""\n',
    )
