"""Settings from `[tool.mlaudit]` in pyproject.toml or from `mlaudit.toml`, plus CLI overrides.

Unknown keys, unknown rule codes and unknown rule options are errors (exit 2): a typo in a
linter's config must never silently switch a rule off.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from mlaudit.facts.sources import SourceError
from mlaudit.facts.structured import parse_toml
from mlaudit.project.boundary import is_inside, read_inside, read_regular, repository_top
from mlaudit.rules import Rule, all_rules, known_code_or_prefix, rule_by_code

DEFAULT_MAX_FILE_MIB = 10

KNOWN_KEYS = {
    "select": "rule codes or prefixes to enable (default: all, [\"ML\"])",
    "extend-select": "codes or prefixes enabled on top of `select`",
    "ignore": "codes or prefixes to disable",
    "exclude": "gitignore-style patterns of paths never audited (replaces the default)",
    "extend-exclude": "patterns excluded on top of `exclude`",
    "per-file-ignores": "table: glob pattern -> list of codes silenced in matching files",
    "options": "table per rule code with that rule's options",
    "max-file-mib": f"files above this size in MiB are not parsed (default {DEFAULT_MAX_FILE_MIB})",
    "cache-dir": "where the cache lives (default .mlaudit_cache)",
    "probe": "settings of `mlaudit probe` (target, timeout, ...)",
    "baseline": "path of a baseline file (`mlaudit baseline -o FILE`): its findings are not reported",
}


class ConfigError(Exception):
    """Invalid configuration; the CLI prints it and exits with 2."""


@dataclass
class Settings:
    select: list[str] = field(default_factory=lambda: ["ML"])
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    extend_exclude: list[str] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    max_file_mib: float = DEFAULT_MAX_FILE_MIB
    cache_dir: str = ".mlaudit_cache"
    probe: dict[str, Any] = field(default_factory=dict)
    baseline: str | None = None  # relative to the project root
    source: str = ""  # the file the settings came from, for messages

    @property
    def max_bytes(self) -> int:
        return int(self.max_file_mib * 2**20)

    def is_enabled(self, code: str) -> bool:
        """Most specific prefix wins: `select = ["ML"]`, `ignore = ["ML1"]`, `extend-select = ["ML103"]`
        enables ML103 and no other ML1xx rule."""
        chosen = _longest_prefix(code, [*self.select, *self.extend_select])
        ignored = _longest_prefix(code, self.ignore)
        if code in opt_in_codes():  # off by default: only its full code selects it
            chosen = len(code) if code in (*self.select, *self.extend_select) else 0
        return chosen > ignored

    def ignored_in_file(self, code: str, path: str) -> bool:
        """As in ruff, a pattern written `!pattern` applies to every file that does NOT match it."""
        for pattern, codes in self.per_file_ignores.items():
            negated = pattern.startswith("!")
            matches = _path_matches(path, pattern[1:] if negated else pattern)
            if matches != negated and any(code.startswith(c) for c in codes):
                return True
        return False

    def rule_options(self, code: str) -> dict[str, Any]:
        rule = rule_by_code(code)
        defaults = dict(rule.defaults) if rule else {}
        return {**defaults, **self.options.get(code, {})}


@cache
def opt_in_codes() -> frozenset[str]:
    return frozenset(r.code for r in all_rules() if r.opt_in)


def _longest_prefix(code: str, prefixes: Iterable[str]) -> int:
    return max((len(p) for p in prefixes if code.startswith(p)), default=0)


def _path_matches(path: str, pattern: str) -> bool:
    pattern = pattern.rstrip("/")
    if fnmatch.fnmatchcase(path, pattern):
        return True
    # A pattern without a slash matches the file name anywhere, as in ruff and .gitignore;
    # a folder pattern matches everything below it.
    if "/" not in pattern and fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], pattern):
        return True
    return path.startswith(pattern + "/")


MAX_CONFIG_BYTES = 16 * 2**20


def find_config_file(root: Path) -> Path | None:
    """The project's own settings file. One that is a symlink out of the project, a FIFO or a
    device is not the project's and is never opened (project.boundary)."""
    for name in ("mlaudit.toml", "pyproject.toml"):
        candidate = root / name
        if candidate.is_file() and (name == "mlaudit.toml" or _has_tool_table(root, candidate)):
            return candidate
    return None


def _has_tool_table(root: Path, path: Path) -> bool:
    data = read_inside(repository_top(root), path, MAX_CONFIG_BYTES)
    return data is not None and b"[tool.mlaudit" in data


def load_settings(root: Path, config_file: Path | None = None) -> Settings:
    path = config_file or find_config_file(root)
    if path is None:
        return Settings()
    try:
        data = parse_toml(_read_config(root, path, explicit=config_file is not None))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}") from None
    except SourceError as exc:
        raise ConfigError(f"{path}: {exc.message}") from None
    table = data if path.name != "pyproject.toml" else data.get("tool", {}).get("mlaudit", {})
    return settings_from_table(table, source=str(path))


def _read_config(root: Path, path: Path, explicit: bool) -> str:
    """A settings file's text. `--config` may name a file anywhere, but only a regular one (a FIFO
    would block); a found one must also resolve inside the project."""
    if not explicit and not is_inside(path, repository_top(root)):
        raise OSError(0, "a symlink to a file outside the repository; it was not read")
    data = read_regular(path, MAX_CONFIG_BYTES + 1)
    if len(data) > MAX_CONFIG_BYTES:
        raise OSError(0, f"over {MAX_CONFIG_BYTES // 2**20} MiB, too large for a settings file")
    return data.decode("utf-8")


def settings_from_table(table: Mapping[str, Any], source: str = "") -> Settings:
    where = f" in {source}" if source else ""
    unknown = sorted(set(table) - set(KNOWN_KEYS))
    if unknown:
        known = ", ".join(sorted(KNOWN_KEYS))
        raise ConfigError(f"unknown key {unknown[0]!r}{where}; known keys are: {known}")
    settings = Settings(source=source)
    settings.select = _codes(table, "select", settings.select, where)
    settings.extend_select = _codes(table, "extend-select", [], where)
    settings.ignore = _codes(table, "ignore", [], where)
    settings.exclude = _strings(table, "exclude", where)
    settings.extend_exclude = _strings(table, "extend-exclude", where)
    settings.per_file_ignores = _per_file_ignores(table.get("per-file-ignores", {}), where)
    settings.options = _options(table.get("options", {}), where)
    settings.max_file_mib = _number(table, "max-file-mib", DEFAULT_MAX_FILE_MIB, where)
    settings.cache_dir = str(table.get("cache-dir", settings.cache_dir))
    probe = table.get("probe", {})
    if not isinstance(probe, dict):
        raise ConfigError(f"'probe'{where} must be a table")
    settings.probe = dict(probe)
    baseline = table.get("baseline")
    if baseline is not None and (not isinstance(baseline, str) or not baseline.strip()):
        raise ConfigError(f"'baseline'{where} must be a file path (a string)")
    settings.baseline = baseline
    return settings


def check_codes(codes: Iterable[str], what: str) -> list[str]:
    result = []
    for code in codes:
        code = code.strip().upper()
        if not code.startswith("ML") or not known_code_or_prefix(code):
            raise ConfigError(f"unknown rule code or prefix {code!r} in {what}; see `mlaudit rule --all`")
        result.append(code)
    return result


def _codes(table: Mapping[str, Any], key: str, default: list[str], where: str) -> list[str]:
    if key not in table:
        return default
    return check_codes(_list_of_str(table[key], key, where), f"'{key}'{where}")


def _strings(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    return _list_of_str(table.get(key, []), key, where)


def _list_of_str(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"'{key}'{where} must be a list of strings")
    return list(value)


def _number(table: Mapping[str, Any], key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"'{key}'{where} must be a positive number")
    return float(value)


def _per_file_ignores(value: Any, where: str) -> dict[str, list[str]]:
    if not isinstance(value, dict):
        raise ConfigError(f"'per-file-ignores'{where} must be a table of pattern = [codes]")
    return {
        pattern: check_codes(_list_of_str(codes, f"per-file-ignores.{pattern}", where), f"per-file-ignores{where}")
        for pattern, codes in value.items()
    }


def _options(value: Any, where: str) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise ConfigError(f"'options'{where} must be a table of rule code = {{option = value}}")
    options: dict[str, dict[str, Any]] = {}
    for code, table in value.items():
        rule = rule_by_code(code.upper())
        if rule is None:
            raise ConfigError(f"unknown rule code {code!r} in 'options'{where}")
        if not isinstance(table, dict):
            raise ConfigError(f"'options.{code}'{where} must be a table")
        unknown = sorted(set(table) - set(rule.defaults))
        if unknown:
            known = ", ".join(sorted(rule.defaults)) or "none"
            raise ConfigError(f"unknown option {unknown[0]!r} for {rule.code}{where}; its options are: {known}")
        options[rule.code] = dict(table)
    return options


def enabled_rules(settings: Settings) -> list[type[Rule]]:
    return [r for r in all_rules() if settings.is_enabled(r.code)]
