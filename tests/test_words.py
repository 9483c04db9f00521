"""Words a newcomer can follow (issue 14): the tutorials this project grew from are never
called "seeds" in what users read (the README, docs/, every --help text, the demo's output),
so "seed" only ever means a random seed there."""

import contextlib
import io
import re
from pathlib import Path

import pytest

from tinygrad_gd import cli

ROOT = Path(__file__).resolve().parent.parent
RANDOM_SEED = re.compile(r"--seed\b|\bseed=|`seed`|\brandom seeds?\b|(?-i:\bSEED\b)", re.IGNORECASE)
""""seed" as a random seed: the option (and its metavar), the keyword argument, "random seed"."""
SEED_WORD = re.compile(r"\bseeds?\b", re.IGNORECASE)
GENERATOR = re.compile(r"manual_seed|np\.random|\brng\b|[Gg]enerator")
"""A line about random number generators may say "seeds the generator"."""


def _stray_seeds(text: str) -> list[str]:
    """The lines where "seed" means something other than a random seed."""
    return [line.strip() for line in text.splitlines()
            if SEED_WORD.search(RANDOM_SEED.sub("", line)) and not GENERATOR.search(line)]


def _help(*argv: str) -> str:
    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        cli.main([*argv, "--help"])
    return out.getvalue()


DOCUMENTS = sorted(p.relative_to(ROOT).as_posix() for p in [ROOT / "README.md", *(ROOT / "docs").glob("*.md")])
COMMANDS = [[], *[[name] for name in cli.build_parser()._subparsers._group_actions[0].choices]]  # noqa: SLF001


@pytest.mark.parametrize("name", DOCUMENTS)
def test_documents_name_the_data_by_what_it_is(name):
    assert _stray_seeds((ROOT / name).read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("argv", COMMANDS, ids=lambda argv: " ".join(argv) or "tinygrad-gd")
def test_help_texts_name_the_data_by_what_it_is(argv):
    text = _help(*argv)
    assert "usage:" in text and _stray_seeds(text) == []


def test_the_demo_says_what_its_data_is(capsys):
    assert cli.main(["demo"]) == 0
    out = capsys.readouterr().out
    assert "the three points on y = 2x" in out and _stray_seeds(out) == []


SOURCES = sorted(p.relative_to(ROOT).as_posix() for p in [*(ROOT / "tinygrad_gd").rglob("*.py"), *(ROOT / "examples").glob("*.py")])


TUTORIAL_AS_SEED = re.compile(r"\bseeds? 00\d|\bseeds 00\d/00\d|\bthe seed's\b|\bthe seeds'|shared/seeds", re.IGNORECASE)
"""How the tutorials were once named in the code ("seed 002", "the seeds' line"); in code,
"seed" otherwise means a random seed or the gradient a backward pass starts from."""


@pytest.mark.parametrize("name", SOURCES)
def test_package_and_examples_name_the_tutorials_by_what_they_are(name):
    """Docstrings, messages, figure labels and example output are read by users too."""
    text = (ROOT / name).read_text(encoding="utf-8")
    assert [line.strip() for line in text.splitlines() if TUTORIAL_AS_SEED.search(line)] == []


def test_the_checker_itself_finds_the_word():
    """The rule catches the old wording and lets a random seed through."""
    assert _stray_seeds("fits seed 002's line\nthe seeds' mistakes\nas the seed does") != []
    assert len(_stray_seeds("fits seed 002's line\nthe seeds' mistakes\nas the seed does")) == 3
    assert _stray_seeds("--seed SEED  random seed of the noise (default 0)\nmake_line(seed=0)") == []
    assert _stray_seeds("`rng` seeds the masks\n`np.random.seed(0)` does not seed it") == []


def test_the_readme_credits_the_tutorials_and_times_the_tests():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    background = readme.split("## Background", 1)[1].split("\n## ", 1)[0]
    assert "tutorials" in background and "y = 2x" in background
    assert "minute" in readme.split("## Quickstart", 1)[0] and "-n auto" in readme
