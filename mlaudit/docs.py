"""Rule documentation: one Markdown file per code in the top-level `rules/` folder.

`mlaudit rule`, the SARIF rule metadata and the doc-example tests all read these files, so the docs
cannot drift from what the tool says. In an installed wheel the folder ships as `mlaudit/ruledocs`.
In a doc's Example, `# expect: CODE` ends each line the rule reports (in the fence info string for a
file that cannot hold a comment); tests/rules/test_docs.py checks markers and findings both ways.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DOCS_URL = "https://github.com/mlaudit/mlaudit/blob/main/rules/{code}.md"


@dataclass(frozen=True)
class CodeBlock:
    lang: str
    filename: str  # from the fence info string: ```python train.py
    text: str
    info: str = ""  # the whole info string; tests read `# expect: CODE` there for files without comments


@dataclass(frozen=True)
class RuleDoc:
    code: str
    front: dict[str, str]
    sections: dict[str, str]  # section title -> Markdown body
    markdown: str

    @property
    def what(self) -> str:
        return self.sections.get("What it does", "").strip()

    @property
    def why(self) -> str:
        return self.sections.get("Why it matters", "").strip()

    def blocks(self, section: str) -> list[CodeBlock]:
        return parse_blocks(self.sections.get(section, ""))

    @property
    def url(self) -> str:
        return DOCS_URL.format(code=self.code)


def docs_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "ruledocs", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    return here.parent / "rules"


_FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```\s*$", re.S | re.M)


def parse_blocks(body: str) -> list[CodeBlock]:
    blocks = []
    for match in _FENCE.finditer(body):
        info = match.group(1).split()
        lang = info[0] if info else ""
        filename = info[1] if len(info) > 1 else ""
        blocks.append(CodeBlock(lang, filename, match.group(2), match.group(1)))
    return blocks


def parse_doc(code: str, text: str) -> RuleDoc:
    front: dict[str, str] = {}
    body = text
    if text.startswith("---\n"):
        end = text.find("\n---", 4)
        if end != -1:
            for line in text[4:end].splitlines():
                key, _, value = line.partition(":")
                if key.strip():
                    front[key.strip()] = value.strip()
            body = text[end + 4 :].lstrip("\n")
    sections: dict[str, str] = {}
    current = None
    lines: list[str] = []
    in_fence = False
    for line in body.splitlines(keepends=True):
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            if current is not None:
                sections[current] = "".join(lines)
            current, lines = line[3:].strip(), []
        elif current is not None:
            lines.append(line)
    if current is not None:
        sections[current] = "".join(lines)
    return RuleDoc(code=code, front=front, sections=sections, markdown=body)


@cache
def load_doc(code: str) -> RuleDoc | None:
    path = docs_dir() / f"{code}.md"
    try:
        return parse_doc(code, path.read_text(encoding="utf-8"))
    except OSError:
        return None


def all_doc_codes() -> list[str]:
    return sorted(p.stem for p in docs_dir().glob("ML*.md"))

