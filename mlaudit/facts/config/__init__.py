"""Per-file configuration facts, one listener per kind of fact, all in the single walk:

- `reads`: where configs come from (Hydra apps, loaded YAML files, config stores) and where code
  reads or writes their keys; joined with the YAML files by `mlaudit.analysis.config_index`
  (ML202, ML203, the config flags of ML301).
- `options`: keys defined in code (argparse, click, typer, dataclass fields), for the index.
- `flags`: which boolean flags code tests and every sign that they can change (ML301).
- `trackers`: how code hands its config to an experiment tracker (ML204).

Each listener stores its own frozen facts type, read with `ModuleFacts.family(ThatType)`.
"""

from __future__ import annotations

from mlaudit.facts.config.flags import FlagUses
from mlaudit.facts.config.options import ConfigOptions
from mlaudit.facts.config.reads import ConfigReads
from mlaudit.facts.config.trackers import TrackerConfig

EXTRACTORS = [ConfigReads, ConfigOptions, FlagUses, TrackerConfig]
