"""PEP 508 requirement strings and pip requirements files, read without `packaging`.

mlaudit must not depend on `packaging`, so this module carries a small splitter for what the
dependency rules need: the normalized name, extras, the version specifier, the marker and a direct
URL. It checks the shape of a requirement, not every corner of the grammar (markers are kept as
text), and it accepts whatever pip accepts in a requirements file, because reporting a valid file
as unparseable would be a false alarm.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass


class ManifestError(ValueError):
    """A manifest or lockfile that cannot be read; the engine reports it as ML001."""

    def __init__(self, message: str, line: int = 1) -> None:
        super().__init__(message, line)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"{self.message} (line {self.line})"


def normalize_name(name: str) -> str:
    """PEP 503: runs of `-`, `_` and `.` become one `-`, all lower case (`Foo_Bar` -> `foo-bar`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


# conda packages whose PyPI name differs; a conda `pytorch` answers "which torch is locked?".
CONDA_TO_PYPI = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "tensorflow-gpu": "tensorflow",
    "py-opencv": "opencv-python",
}


def conda_name(name: str) -> str:
    """The normalized PyPI name of a conda package (`pytorch` -> `torch`)."""
    normalized = normalize_name(name)
    return CONDA_TO_PYPI.get(normalized, normalized)


@dataclass(frozen=True)
class Requirement:
    """One declared dependency, as written in one file."""

    name: str  # PEP 503 normalized
    raw: str  # the requirement as written, without pip options such as --hash
    specifier: str = ""  # PEP 440 clauses joined by ",", e.g. ">=2.0,<3"; "" allows any version
    line: int = 1
    source: str = ""  # repo-relative path of the file that declares it
    extras: tuple[str, ...] = ()
    marker: str = ""  # environment marker text after ";", kept as written
    group: str = ""  # "" for the main dependencies, "extra:NAME" or "group:NAME" otherwise
    url: str = ""  # direct reference (`name @ url`, a VCS or path dependency)
    table: str = ""  # TOML table that declares it (`project.optional-dependencies`); "" in line-based files

    @property
    def exact_version(self) -> str | None:
        """The version of an exact pin (`==2.1.0`, `===2.1.0`), else None (`==2.*` is a range)."""
        return exact_version(self.specifier)

    @property
    def pinned(self) -> bool:
        """True when this line names one release: an exact pin or a direct reference to one artifact."""
        return self.exact_version is not None or url_is_pinned(self.url)


@dataclass(frozen=True)
class Include:
    """A `-r` (requirements) or `-c` (constraints) line of a requirements file."""

    path: str  # repo-relative, resolved against the including file's folder
    line: int
    constraint: bool = False


_NAME = re.compile(r"\s*([A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?)\s*")
_EXTRA = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")
_CLAUSE = re.compile(r"\s*(===|~=|==|!=|<=|>=|<|>)\s*([A-Za-z0-9_.*+!-]+)\s*")
_VCS_PREFIXES = ("git+", "hg+", "svn+", "bzr+")


def parse_requirement(text: str, *, line: int = 1, source: str = "", group: str = "") -> Requirement:
    """Split one PEP 508 requirement string; raise ManifestError when it is not one."""
    raw = text.strip()
    match = _NAME.match(raw)
    if match is None:
        raise ManifestError(f"invalid requirement {raw!r}: expected a package name", line)
    pos = match.end()
    extras: tuple[str, ...] = ()
    if raw.startswith("[", pos):
        extras, pos = _parse_extras(raw, pos, line)
    rest = raw[pos:]
    url = marker = specifier = ""
    if rest.startswith("@"):
        url, marker = _split_url(rest[1:], raw, line)
    else:
        spec_text, semicolon, marker = rest.partition(";")
        marker = marker.strip()
        if semicolon and not marker:
            raise ManifestError(f"invalid requirement {raw!r}: empty marker after ';'", line)
        specifier = normalize_specifier(spec_text, raw, line)
    return Requirement(
        name=normalize_name(match.group(1)),
        raw=raw,
        specifier=specifier,
        line=line,
        source=source,
        extras=extras,
        marker=marker,
        group=group,
        url=url,
    )


def _parse_extras(raw: str, pos: int, line: int) -> tuple[tuple[str, ...], int]:
    end = raw.find("]", pos)
    if end == -1:
        raise ManifestError(f"invalid requirement {raw!r}: '[' without ']'", line)
    names = [part.strip() for part in raw[pos + 1 : end].split(",") if part.strip()]
    for name in names:
        if not _EXTRA.fullmatch(name):
            raise ManifestError(f"invalid requirement {raw!r}: bad extra {name!r}", line)
    after = end + 1
    while after < len(raw) and raw[after].isspace():
        after += 1
    return tuple(sorted({normalize_name(n) for n in names})), after


def _split_url(text: str, raw: str, line: int) -> tuple[str, str]:
    # PEP 508 needs whitespace between a URL and its ";" marker, since ";" may occur in URLs.
    parts = text.strip().split(None, 1)
    if not parts:
        raise ManifestError(f"invalid requirement {raw!r}: '@' without a URL", line)
    url = parts[0]
    tail = parts[1].strip() if len(parts) > 1 else ""
    if tail and (not tail.startswith(";") or not tail[1:].strip()):
        raise ManifestError(f"invalid requirement {raw!r}: unexpected text after the URL", line)
    return url, tail[1:].strip()


def normalize_specifier(text: str, raw: str = "", line: int = 1) -> str:
    """`>= 1.0, <2` -> `>=1.0,<2`; the legacy `(>=1.0)` form is accepted; "" for no specifier."""
    spec = text.strip()
    if spec.startswith("(") and spec.endswith(")"):
        spec = spec[1:-1].strip()
    if not spec:
        return ""
    clauses = []
    for clause in spec.split(","):
        match = _CLAUSE.fullmatch(clause)
        if match is None:
            raise ManifestError(f"invalid requirement {raw or text!r}: bad version clause {clause.strip()!r}", line)
        clauses.append(match.group(1) + match.group(2))
    return ",".join(clauses)


def split_clauses(specifier: str) -> list[tuple[str, str]]:
    """`>=2.0,<3` -> [(">=", "2.0"), ("<", "3")]; clauses that do not parse are left out."""
    out = []
    for clause in specifier.split(","):
        match = _CLAUSE.fullmatch(clause)
        if match:
            out.append((match.group(1), match.group(2)))
    return out


def exact_version(specifier: str) -> str | None:
    """The version a specifier allows alone (`==2.1.0`, `===2.1.0`), else None."""
    clauses = split_clauses(specifier)
    for op, version in clauses:
        if op in ("==", "===") and "*" not in version:
            return version
    return None


def url_is_pinned(url: str) -> bool:
    """A direct reference names one artifact unless it is a VCS URL without a revision after `@`."""
    if not url:
        return False
    if not url.startswith(_VCS_PREFIXES):
        return True
    path = url.split("://", 1)[-1].split("#", 1)[0]
    return "@" in path.split("/", 1)[-1]


# -- requirements files -------------------------------------------------------------------------

_COMMENT = re.compile(r"(^|\s+)#.*$")  # pip's rule: '#' starts a comment only after whitespace
_INCLUDE_OPTIONS = {"-r": False, "--requirement": False, "-c": True, "--constraint": True}
_ARCHIVE_SUFFIXES = (".whl", ".zip", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar")
_URL_START = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://|^file:")
_EGG = re.compile(r"#(?:.*&)?egg=([A-Za-z0-9][A-Za-z0-9._-]*)")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """Lines joined at trailing backslashes, comments removed, blanks dropped; with start lines."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, physical in enumerate(text.splitlines(), start=1):
        if not pending:
            start = number
        if physical.endswith("\\"):
            pending.append(physical[:-1])
            continue
        pending.append(physical)
        _add_logical(out, start, " ".join(pending))
        pending = []
    if pending:
        _add_logical(out, start, " ".join(pending))
    return out


def _add_logical(out: list[tuple[int, str]], line: int, text: str) -> None:
    stripped = _COMMENT.sub("", text).strip()
    if stripped:
        out.append((line, stripped))


def parse_requirements_text(
    path: str, text: str, group: str = ""
) -> tuple[tuple[Requirement, ...], tuple[Include, ...]]:
    """Read a pip requirements file (requirements.txt, requirements.in, constraints.txt)."""
    requirements: list[Requirement] = []
    includes: list[Include] = []
    for line, content in logical_lines(text):
        read_requirement_line(path, line, content, requirements, includes, group)
    return tuple(requirements), tuple(includes)


def read_requirement_line(
    path: str,
    line: int,
    content: str,
    requirements: list[Requirement],
    includes: list[Include],
    group: str = "",
) -> None:
    """One logical line of a requirements file: an option, an include, a path or a requirement."""
    if content.startswith("-"):
        include = _include(path, line, content)
        if include is not None:
            includes.append(include)
        return
    requirement_text = _before_options(content)
    if "${" in requirement_text:
        return  # pip fills in ${VAR} at install time; what it stands for is unknown here
    if _is_path_or_url(requirement_text):
        egg = _EGG.search(requirement_text)
        name = egg.group(1) if egg else _vcs_project(requirement_text)
        if name:
            requirements.append(_url_requirement(name, requirement_text, line, path, group))
        return
    requirements.append(parse_requirement(requirement_text, line=line, source=path, group=group))


def _vcs_project(url: str) -> str | None:
    """The project a bare VCS URL installs, from the repository's name:
    `git+https://github.com/openai/CLIP.git@main` -> `CLIP`. None for other URLs and paths."""
    if not url.startswith(_VCS_PREFIXES):
        return None
    path = url.split("://", 1)[-1].split("#", 1)[0].rstrip("/")
    last = path.rsplit("/", 1)[-1].split("@", 1)[0]
    name = last.removesuffix(".git")
    return name if _NAME.fullmatch(name) and "/" in path else None


def _url_requirement(name: str, url: str, line: int, path: str, group: str) -> Requirement:
    return Requirement(name=normalize_name(name), raw=url, line=line, source=path, group=group, url=url)


def _before_options(content: str) -> str:
    # pip's break_args_options: the requirement ends at the first token that starts with "-".
    args = []
    for token in content.split(" "):
        if token.startswith("-"):
            break
        args.append(token)
    return " ".join(args).strip()


def _include(path: str, line: int, content: str) -> Include | None:
    option, value = _split_option(content)
    constraint = _INCLUDE_OPTIONS.get(option)
    if constraint is None or not value or _URL_START.match(value):
        return None
    target = posixpath.normpath(posixpath.join(posixpath.dirname(path), value))
    return Include(path=target, line=line, constraint=constraint)


def _split_option(content: str) -> tuple[str, str]:
    """`-r base.txt`, `-rbase.txt`, `--requirement=base.txt` -> ("-r", "base.txt")."""
    head, _, tail = content.partition(" ")
    if head.startswith("--"):
        option, equals, value = head.partition("=")
        return option, (value if equals else tail).strip()
    if len(head) > 2:
        return head[:2], (head[2:] + " " + tail).strip()
    return head, tail.strip()


def _is_path_or_url(text: str) -> bool:
    if _URL_START.match(text) or text.startswith(_VCS_PREFIXES):
        return True
    if text.startswith((".", "/", "~", "\\")) or re.match(r"^[A-Za-z]:[\\/]", text):
        return True
    return text.lower().endswith(_ARCHIVE_SUFFIXES) and "@" not in text
