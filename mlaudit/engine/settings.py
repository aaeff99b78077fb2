"""Settings from `[tool.mlaudit]` in pyproject.toml or from `mlaudit.toml`, plus CLI overrides.

Unknown keys, unknown rule codes and unknown rule options are errors (exit 2): a typo in a
linter's config must never silently switch a rule off. So are values of the wrong type or out of
range (`max-file-mib = nan`, `words = "final"`, a pattern that cannot compile, a NUL in a path):
the settings may come from the repository being audited, so they are checked before any is used.
"""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from mlaudit.files.boundary import is_inside, read_inside, read_regular, repository_top
from mlaudit.files.patterns import valid_pattern
from mlaudit.files.sources import SourceError
from mlaudit.files.structured import parse_toml
from mlaudit.project.model import RunSettings
from mlaudit.rules import Rule, all_rules, known_code_or_prefix, rule_by_code

DEFAULT_MAX_FILE_MIB = 10
# Above this a limit stops being one: parse budgets still bound each file's cost.
MAX_FILE_MIB_CEILING = 1024

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
    table = data if path.name != "pyproject.toml" else _tool_table(data, path)
    return settings_from_table(table, source=str(path))


def _tool_table(data: dict[str, Any], path: Path) -> Any:
    tool = data.get("tool", {})
    if not isinstance(tool, dict):
        raise ConfigError(f"'tool' in {path} must be a table ([tool.mlaudit])")
    table = tool.get("mlaudit", {})
    if not isinstance(table, dict):
        raise ConfigError(f"'tool.mlaudit' in {path} must be a table")
    return table


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
    settings.exclude = _patterns(table, "exclude", where)
    settings.extend_exclude = _patterns(table, "extend-exclude", where)
    settings.per_file_ignores = _per_file_ignores(table.get("per-file-ignores", {}), where)
    settings.options = _options(table.get("options", {}), where)
    settings.max_file_mib = _max_file_mib(table, where)
    settings.cache_dir = _cache_dir(table.get("cache-dir", settings.cache_dir), where)
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


def _patterns(table: Mapping[str, Any], key: str, where: str) -> list[str]:
    patterns = _list_of_str(table.get(key, []), key, where)
    for pattern in patterns:
        if "\0" in pattern or not valid_pattern(pattern):
            raise ConfigError(f"'{key}'{where}: {pattern!r} is not a valid gitignore-style pattern")
    return patterns


def _list_of_str(value: Any, key: str, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        shown = f" (got {type(value).__name__} {value!r:.40})" if isinstance(value, str) else ""
        raise ConfigError(f"'{key}'{where} must be a list of strings{shown}")
    return list(value)


def _max_file_mib(table: Mapping[str, Any], where: str) -> float:
    value = table.get("max-file-mib", DEFAULT_MAX_FILE_MIB)
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if not number or not math.isfinite(value) or not 0 < value <= MAX_FILE_MIB_CEILING:
        raise ConfigError(f"'max-file-mib'{where} must be a number of MiB above 0 and at most {MAX_FILE_MIB_CEILING} (got {value!r:.40})")
    return float(value)


def _cache_dir(value: Any, where: str) -> str:
    """Type and characters only; where the folder may lie is the cache's own check (Cache.refusal)."""
    if not isinstance(value, str) or "\0" in value:
        raise ConfigError(f"'cache-dir'{where} must be a folder path without NUL characters (got {value!r:.40}); "
                          "to keep the cache elsewhere, pass --cache-dir PATH on the command line")
    return value


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
        for key, option in table.items():
            problem = _option_problem(key, option, rule.defaults[key])
            if problem:
                raise ConfigError(f"'options.{rule.code}.{key}'{where} must be {problem} (got {option!r:.60})")
        options[rule.code] = dict(table)
    return options


def _option_problem(key: str, value: Any, default: Any) -> str:
    """What a rule option must be, judged by its default's type; "" when the value fits."""
    special = _OPTION_SHAPES.get(key)
    if special is not None:
        return special(value)
    if isinstance(default, bool):
        return "true or false" if not isinstance(value, bool) else ""
    if isinstance(default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            return "a number, 0 or more"
        return "a whole number" if isinstance(default, int) and not isinstance(value, int) else ""
    if isinstance(default, str):
        return "a string" if not isinstance(value, str) else ""
    if isinstance(default, list):
        return "a list of strings" if not isinstance(value, list) or not all(isinstance(v, str) for v in value) else ""
    return ""


def _sink_table(value: Any) -> str:
    """ML201's `extend-sinks`: callee = [keywords] or {keywords = [...], positional = {"1" = "lr"}}."""
    shape = 'a table of callee = ["keyword", ...] or {keywords = [...], positional = {"1" = "lr"}}'
    if not isinstance(value, dict):
        return shape
    for spec in value.values():
        if isinstance(spec, list) and all(isinstance(k, str) for k in spec):
            continue
        if not isinstance(spec, dict) or set(spec) - {"keywords", "positional"}:
            return shape
        keywords, positional = spec.get("keywords", []), spec.get("positional", {})
        if not isinstance(keywords, list) or not all(isinstance(k, str) for k in keywords):
            return shape
        if not isinstance(positional, dict) or not all(
            isinstance(n, str) and i.isdigit() and len(i) < 4 for i, n in positional.items()
        ):
            return shape
    return ""


# Options whose shape is more than their default's type says.
_OPTION_SHAPES: dict[str, Callable[[Any], str]] = {"extend-sinks": _sink_table}


def enabled_rules(settings: RunSettings) -> list[type[Rule]]:
    return [r for r in all_rules() if settings.is_enabled(r.code)]
