"""The README and docs/ hold up: the README stays short, every relative link (and its #anchor) points at
something that exists, DESIGN.md is not referred to (it is not in the repository), every `make TARGET`
named is a Makefile target, and every `sparkfleet COMMAND` the README names is a command of the CLI."""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer

from sparkfleet.cli import app

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").rglob("*.md"))
PAGES = [README, *DOCS]
MAX_README_LINES = 250

FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
SPAN = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)
SEPARATORS = re.compile(r"\|\||&&|[|;()]|\$\(")
TARGET = re.compile(r"^([A-Za-z0-9_.-]+):(?!=)", re.MULTILINE)
WORD = re.compile(r"[a-z][a-z0-9-]*")


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def code_lines(text: str) -> Iterator[str]:
    """Each line of the fenced blocks, and each inline code span (joined if it wraps), of a page."""
    for block in FENCE.finditer(text):
        yield from block.group(1).splitlines()
    prose = FENCE.sub("", text)
    for span in SPAN.finditer(prose):
        yield " ".join(span.group(1).split())


def commands(line: str, program: str) -> Iterator[list[str]]:
    """The words after ``program`` where a shell would run it (first in the line or after |, &&, ;, (),
    after environment assignments), up to the first option or non-word (an argument like MEMBER)."""
    for segment in SEPARATORS.split(line.split(" #")[0]):
        try:
            tokens = shlex.split(segment)
        except ValueError:  # an unclosed quote: a fragment, not a command line
            tokens = segment.split()
        while tokens and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=\S*", tokens[0]):
            tokens = tokens[1:]
        if not tokens or tokens[0].rsplit("/", 1)[-1] != program:
            continue
        words: list[str] = []
        for token in tokens[1:]:
            if program == "make" and "=" in token:
                continue  # make VAR=value target
            if not WORD.fullmatch(token):
                break
            words.append(token)
        yield words


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    return {slug(h) for h in HEADING.findall(FENCE.sub("", page.read_text()))}


def test_readme_is_at_most_250_lines() -> None:
    lines = README.read_text().splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; at most {MAX_README_LINES}"


def test_docs_exist() -> None:
    assert DOCS, "docs/ has no pages"


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_relative_links_point_at_what_exists(page: Path) -> None:
    broken = []
    for target in LINK.findall(FENCE.sub("", page.read_text())):
        if re.match(r"[a-z]+:", target):  # https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        where = (page.parent / path).resolve() if path else page
        if not where.exists():
            broken.append(f"{target} (no {where.relative_to(ROOT) if ROOT in where.parents else where})")
        elif anchor and where.suffix == ".md" and anchor not in anchors(where):
            broken.append(f"{target} (no heading #{anchor} in {rel(where)})")
    assert not broken, f"{rel(page)}: broken links: {broken}"


def test_every_docs_page_is_linked_from_the_readme_or_another_page() -> None:
    linked: set[Path] = set()
    for page in PAGES:
        for target in LINK.findall(page.read_text()):
            path = target.partition("#")[0]
            if path and not re.match(r"[a-z]+:", target):
                linked.add((page.parent / path).resolve())
    orphans = [rel(page) for page in DOCS if page.resolve() not in linked]
    assert not orphans, f"pages no other page links to: {orphans}"


def test_design_md_is_named_nowhere_but_the_architecture_page() -> None:
    naming = [rel(p) for p in PAGES if p.name != "architecture.md" and "DESIGN.md" in p.read_text()]
    assert not naming, f"DESIGN.md is not in the repository, yet named in {naming}"


def makefile_targets() -> set[str]:
    return set(TARGET.findall((ROOT / "Makefile").read_text()))


@pytest.mark.parametrize("page", PAGES, ids=rel)
def test_every_make_target_named_exists(page: Path) -> None:
    targets = makefile_targets()
    named = {
        word for line in code_lines(page.read_text()) for words in commands(line, "make") for word in words
    }
    assert not named - targets, (
        f"{rel(page)} names make targets the Makefile lacks: {sorted(named - targets)}"
    )


def test_the_readme_names_make_targets_and_sparkfleet_commands() -> None:
    """The checks below see what they check (a parser that finds nothing would pass them all)."""
    lines = list(code_lines(README.read_text()))
    make = {w for line in lines for words in commands(line, "make") for w in words}
    sparkfleet = {" ".join(words) for line in lines for words in commands(line, "sparkfleet")}
    assert {"demo", "test", "install", "controlplane"} <= make, make
    assert {"controlplane", "run", "sim", "shards status"} <= sparkfleet, sparkfleet


def subcommands(command: object) -> dict[str, object] | None:
    """A group's commands by name (None for a command that is not a group)."""
    found = getattr(command, "commands", None)
    return found if isinstance(found, dict) else None


def test_every_sparkfleet_command_the_readme_names_exists() -> None:
    root = typer.main.get_command(app)
    assert subcommands(root), "the CLI has no commands"
    unknown = []
    for line in code_lines(README.read_text()):
        for words in commands(line, "sparkfleet"):
            command: object = root
            for depth, word in enumerate(words):
                names = subcommands(command)
                if names is None:
                    break  # the rest are the command's arguments
                if word not in names:
                    unknown.append(f"sparkfleet {' '.join(words[: depth + 1])}  ({line})")
                    break
                command = names[word]
    assert not unknown, f"README.md names commands the CLI does not have: {unknown}"
