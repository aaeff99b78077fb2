"""Build hostile repositories for the security tests: canaries that leave a marker file when a
program the repository names runs, secrets outside the repository, and a plain-git control
that proves each canary is live."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

from tests.helpers import git, make_repo

SECRET = "ghp_CANARYSECRET0123456789"


def canary(markers: Path, name: str) -> str:
    """A shell command that leaves the marker `name`; git runs such values through the shell."""
    return f"touch {markers / name}; true"


def plain_git(root: Path, *args: str, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """git as a user would run it (own config only), for the controls."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull, GIT_TERMINAL_PROMPT="0")
    return subprocess.run(
        ["git", *args], cwd=cwd or root, env=env, capture_output=True, text=True, input=stdin, timeout=60, check=False
    )


def config(root: Path, key: str, value: str) -> None:
    git(root, "config", key, value)


def executable(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


HOOKS = (
    "post-index-change", "reference-transaction", "post-checkout", "pre-commit", "pre-auto-gc", "post-rewrite",
    "fsmonitor-watchman", "pre-push", "post-merge", "push-to-checkout",
)

FILES = {"train.py": "import yaml\ncfg = yaml.load(open('c.yaml'))\n", "a.txt": "aaaa\n", "b.txt": "bbbb\n"}


def plant_fsmonitor(root: Path, markers: Path) -> None:
    config(root, "core.fsmonitor", canary(markers, "fsmonitor"))


def plant_hooks(root: Path, markers: Path) -> None:
    for hook in HOOKS:
        executable(root / ".git" / "hooks" / hook, f"#!/bin/sh\ntouch {markers / ('hook-' + hook)}\n")


def plant_hooks_path(root: Path, markers: Path) -> None:
    folder = root / "evil-hooks"
    for hook in HOOKS:
        executable(folder / hook, f"#!/bin/sh\ntouch {markers / ('hookspath-' + hook)}\n")
    config(root, "core.hooksPath", str(folder))


def plant_pager(root: Path, markers: Path) -> None:
    config(root, "core.pager", canary(markers, "pager"))
    config(root, "pager.diff", canary(markers, "pager-diff"))


def plant_filter(root: Path, markers: Path) -> None:
    config(root, "filter.evil.clean", canary(markers, "clean") + "; cat")
    config(root, "filter.evil.smudge", canary(markers, "smudge") + "; cat")


def plant_process_filter(root: Path, markers: Path) -> None:
    config(root, "filter.proc.process", canary(markers, "process"))


def plant_textconv(root: Path, markers: Path) -> None:
    config(root, "diff.evil.textconv", canary(markers, "textconv") + "; cat")


def plant_diff_command(root: Path, markers: Path) -> None:
    config(root, "diff.ext.command", canary(markers, "diff-command"))


def plant_diff_external(root: Path, markers: Path) -> None:
    config(root, "diff.external", str(_script(root, markers, "diff-external")))


def plant_ssh(root: Path, markers: Path) -> None:
    config(root, "core.sshCommand", canary(markers, "ssh"))
    config(root, "remote.origin.url", "ssh://git@example.invalid/x.git")
    config(root, "remote.origin.fetch", "+refs/heads/*:refs/remotes/origin/*")


def plant_ext_protocol(root: Path, markers: Path) -> None:
    config(root, "protocol.ext.allow", "always")
    config(root, "remote.ext.url", f"ext::sh {_script(root, markers, 'ext')}")


def _script(root: Path, markers: Path, name: str) -> Path:
    script = markers.parent / f"{name}.sh"
    executable(script, f"#!/bin/sh\ntouch {markers / name}\n")
    return script


def dirty(root: Path) -> None:
    """Change tracked files, keeping their size, so that git must read their content again."""
    (root / "a.txt").write_text("cccc\n")
    (root / "b.txt").write_text("dddd\n")


# name -> (plant, how plain git is made to run it: git arguments, after `dirty`)
Trigger = tuple[str, ...]
KNOBS: dict[str, tuple[Callable[[Path, Path], None], Trigger]] = {
    "fsmonitor": (plant_fsmonitor, ("ls-files", "-z")),
    "hooks": (plant_hooks, ("status",)),
    "hooksPath": (plant_hooks_path, ("status",)),
    "filter-clean": (plant_filter, ("status",)),
    "filter-smudge": (plant_filter, ("checkout", "--", "a.txt")),
    "filter-process": (plant_process_filter, ("status",)),
    "textconv": (plant_textconv, ("diff", "HEAD")),
    "diff-command": (plant_diff_command, ("diff", "HEAD")),
    "diff-external": (plant_diff_external, ("diff", "HEAD")),
    "sshCommand": (plant_ssh, ("fetch", "origin")),
    "ext-protocol": (plant_ext_protocol, ("fetch", "ext")),
}


# The committed .gitattributes that picks each driver (committed before the config is planted).
ATTRIBUTES = {
    plant_filter: "a.txt filter=evil\n",
    plant_process_filter: "a.txt filter=proc\n",
    plant_textconv: "a.txt diff=evil\n",
    plant_diff_command: "a.txt diff=ext\n",
}


def knob_repo(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """A committed repository with the knob `name` planted; returns it and the markers folder."""
    markers = tmp_path / "markers"
    markers.mkdir()
    plant, _ = KNOBS[name]
    attributes = ATTRIBUTES.get(plant)
    root = make_repo(tmp_path / "repo", {**FILES, **({".gitattributes": attributes} if attributes else {})})
    plant(root, markers)
    dirty(root)
    return root, markers


def embedded_bare_repo(folder: Path, markers: Path) -> None:
    """What a clone can carry as plain committed files: a bare repository whose config names
    programs, and whose work tree is the folder above, so git run inside takes it for its own."""
    folder.mkdir(parents=True)
    (folder / "HEAD").write_text("ref: refs/heads/main\n")
    for sub in ("objects/info", "objects/pack", "refs/heads", "refs/tags"):
        (folder / sub).mkdir(parents=True)
        (folder / sub / ".keep").write_text("")
    (folder / "config").write_text(
        "[core]\n\trepositoryformatversion = 0\n\tbare = false\n\tworktree = ..\n"
        f"\tfsmonitor = {canary(markers, 'bare-fsmonitor')}\n\tpager = {canary(markers, 'bare-pager')}\n"
        f"[filter \"evil\"]\n\tclean = {canary(markers, 'bare-clean')}; cat\n"
    )
    (folder.parent / ".gitattributes").write_text("* filter=evil\n")
    (folder.parent / "train.py").write_text("import random\nx = random.random()\n")


def fired(markers: Path) -> list[str]:
    return sorted(p.name for p in markers.iterdir())
