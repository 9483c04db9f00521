"""The documentation is executable and complete.

1. Every ```python block in README.md and docs/*.md runs: each page's blocks run top to bottom
   as one script, in a fresh subprocess, in a temporary working directory, with matplotlib made
   unimportable (it is an optional extra: a block that needs it must guard the import).
   ```bash (and any other language) blocks are not executed. A failure names the page, the
   block's line number and its first line.
2. README.md starts with the two set-up commands, and every relative link in README.md and
   docs/*.md points to a file that exists.
3. docs/api.md documents every public name: everything in ``tinygrad_gd.__all__``, every public
   name of every module of the package (its ``__all__``, or the classes and functions it defines),
   the public methods and properties of those classes, and every public attribute of ``Tensor``.
   A new public name without an entry there fails this test.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import tinygrad_gd as tg

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
API = ROOT / "docs" / "api.md"
PAGES = [README, *sorted((ROOT / "docs").glob("*.md"))]
PYTHON_LANGS = {"python", "py", "python3"}
TIME_LIMIT_S = 120  # a hang guard, not a timing assertion

# ---------------------------------------------------------------------------------------- parsing
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")


def code_blocks(text: str) -> list[tuple[str, int, str]]:
    """``(language, line number of the opening fence, code)`` of every fenced block, in order."""
    blocks, lines = [], text.splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, language, start = opening.group(1), opening.group(2).lower(), i + 1
        body = []
        i += 1
        while i < len(lines) and not (
            lines[i].strip().startswith(fence[0] * len(fence)) and not lines[i].strip().strip(fence[0])
        ):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            raise AssertionError(f"unclosed {fence} block opened on line {start}")
        blocks.append((language, start, "\n".join(body) + "\n"))
        i += 1
    return blocks


def python_blocks(text: str) -> list[tuple[int, str]]:
    return [(line, code) for language, line, code in code_blocks(text) if language in PYTHON_LANGS]


# ------------------------------------------------------------------------------ running the blocks
# Runs in a subprocess: reads {"page": ..., "blocks": [[line, code], ...]} from stdin, executes the
# blocks in one namespace, and on the first failure prints a marker line with the block's index.
RUNNER = r"""
import json, sys, traceback
import importlib.abc

class _NoMatplotlib(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError("matplotlib is blocked while the docs run: it is an optional extra, "
                              "so a block that needs it must guard the import")
        return None

sys.meta_path.insert(0, _NoMatplotlib())
job = json.load(sys.stdin)
namespace = {"__name__": "__main__"}
for index, (line, code) in enumerate(job["blocks"]):
    try:
        exec(compile(code, f"{job['page']} (block at line {line})", "exec"), namespace)
    except BaseException:
        traceback.print_exc()
        print(f"@@FAILED-BLOCK {index}", file=sys.stderr)
        sys.exit(1)
"""


def run_page(page_name: str, text: str, cwd: Path) -> tuple[int, str]:
    """Run a page's python blocks as one script; ``(returncode, failure report)``."""
    blocks = python_blocks(text)
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", RUNNER],
        input=json.dumps({"page": page_name, "blocks": blocks}),
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIME_LIMIT_S,
    )
    if result.returncode == 0:
        return 0, ""
    marker = re.search(r"@@FAILED-BLOCK (\d+)", result.stderr)
    if marker is None:
        return result.returncode, f"{page_name}: the script died ({result.returncode}):\n{result.stderr[-4000:]}"
    line, code = blocks[int(marker.group(1))]
    first = next((s for s in code.splitlines() if s.strip()), "")
    stderr = result.stderr[: marker.start()]
    return result.returncode, (
        f"{page_name}: the python block at line {line} failed; it starts with:\n    {first}\n"
        f"--- output (end) ---\n{result.stdout[-1500:]}\n--- traceback (end) ---\n{stderr[-4000:]}"
    )


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_code_blocks_run(page, tmp_path):
    text = page.read_text(encoding="utf-8")
    code_blocks(text)  # every fence is closed
    returncode, report = run_page(page.relative_to(ROOT).as_posix(), text, tmp_path)
    assert returncode == 0, report


def test_runner_reports_the_failing_block(tmp_path):
    page = (
        "# A page\n\n```bash\nexit 3\n```\n\n```python\nvalue = 41\n```\n\ntext\n\n"
        "```python\n\n# the answer\nassert value + 1 == 43, 'off by one'\n```\n"
    )
    assert [line for line, _ in python_blocks(page)] == [7, 13]
    returncode, report = run_page("page.md", page, tmp_path)
    assert returncode == 1
    assert "page.md: the python block at line 13 failed" in report and "# the answer" in report
    assert "off by one" in report


def test_runner_blocks_matplotlib_and_shares_one_namespace(tmp_path):
    guarded = (
        "```python\ntry:\n    import matplotlib.pyplot\nexcept ImportError:\n    have_plot = False\n```\n"
        "```py\nassert have_plot is False\nopen('out.txt', 'w').write('x')\n```\n"
    )
    assert run_page("guarded.md", guarded, tmp_path) == (0, "")
    assert (tmp_path / "out.txt").exists()  # blocks run in the temporary working directory
    returncode, report = run_page("unguarded.md", "```python\nimport matplotlib\n```\n", tmp_path)
    assert returncode == 1 and "optional extra" in report


def test_every_page_has_code_that_runs():
    for page in (README, ROOT / "docs" / "tutorial.md", API):
        assert python_blocks(page.read_text(encoding="utf-8")), f"{page.name} has no python block"


# ------------------------------------------------------------------------------------ README shape
def test_readme_starts_with_the_two_setup_commands():
    blocks = code_blocks(README.read_text(encoding="utf-8"))
    assert [code.strip() for _, _, code in blocks[:2]] == [
        "pip install . && tinygrad-gd demo",
        'pip install -e ".[test]" && pytest',
    ]
    assert all(language in ("bash", "sh", "console", "") for language, _, _ in blocks[:2])


def test_readme_links_the_docs_pages():
    text = README.read_text(encoding="utf-8")
    for page in (
        "docs/tutorial.md",
        "docs/api.md",
        "docs/extending.md",
        "docs/checking-gradients.md",
        "docs/second-order.md",
        "docs/performance.md",
        "docs/errors.md",
    ):
        assert f"]({page})" in text, f"README.md does not link {page}"


LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def without_code(text: str) -> str:
    return re.sub(r"^ {0,3}(`{3,}|~{3,}).*?^ {0,3}\1\s*$", "", text, flags=re.S | re.M)


def anchors(text: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    slugs = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *#*$", without_code(text), flags=re.M):
        slugs.add(re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-"))
    return slugs


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_relative_links_point_to_files(page):
    text = page.read_text(encoding="utf-8")
    missing = []
    for target in LINK.findall(without_code(text)):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):
            continue  # http(s), mailto
        file_part, _, anchor = target.partition("#")
        path = (page.parent / file_part).resolve() if file_part else page
        if not path.exists():
            missing.append(target)
        elif anchor and path.suffix == ".md" and anchor not in anchors(path.read_text(encoding="utf-8")):
            missing.append(target)
    assert not missing, f"{page.relative_to(ROOT)} links to missing files or headings: {missing}"


def test_anchors_follow_github():
    text = "# Top level (`tg.*`)\n## `tg.Tensor`: the array that records\n```\n# not a heading\n```\n"
    assert anchors(text) == {"top-level-tg", "tgtensor-the-array-that-records"}


# ----------------------------------------------------------------------------- API completeness
def api_sections() -> dict[str, set[str]]:
    """Identifiers in code (spans and blocks) under each ``## `` heading of docs/api.md."""
    sections: dict[str, set[str]] = {}
    heading = ""
    in_block = False
    for line in API.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_block = not in_block
            continue
        if not in_block and line.startswith("## "):
            heading = line[3:].strip()
            sections.setdefault(heading, set())
            continue
        code = [line] if in_block else re.findall(r"`([^`]+)`", line)
        for span in code:
            sections.setdefault(heading, set()).update(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span))
    return sections


def section(sections: dict[str, set[str]], marker: str) -> set[str]:
    found = [names for heading, names in sections.items() if marker in heading]
    assert len(found) == 1, f"docs/api.md needs exactly one '## ' heading containing {marker!r}"
    return found[0]


def package_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(tg.__path__) if not m.name.startswith("_"))


def public_names(module) -> list[str]:
    names = getattr(module, "__all__", None)
    if names is not None:
        return list(names)
    return sorted(
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(value) or inspect.isfunction(value))
        and value.__module__ == module.__name__
    )


def public_members(cls) -> list[str]:
    """Methods and properties a class defines itself (plain data fields are described in prose)."""
    kinds = (property, classmethod, staticmethod)
    return sorted(
        name
        for name, value in vars(cls).items()
        if not name.startswith("_") and (inspect.isfunction(value) or isinstance(value, kinds))
    )


def test_api_documents_the_top_level():
    documented = section(api_sections(), "Top level")
    missing = [name for name in tg.__all__ if name not in documented]
    assert not missing, f"docs/api.md's 'Top level' section lacks: {missing}"


def test_api_documents_every_tensor_attribute():
    documented = section(api_sections(), "`tg.Tensor`")
    missing = [name for name in dir(tg.Tensor) if not name.startswith("_") and name not in documented]
    assert not missing, f"docs/api.md's Tensor section lacks: {missing}"


@pytest.mark.parametrize("name", package_modules())
def test_api_documents_every_module(name):
    module = importlib.import_module(f"tinygrad_gd.{name}")
    documented = section(api_sections(), f"`tg.{name}`")
    missing = [n for n in public_names(module) if n not in documented]
    for n in public_names(module):
        value = getattr(module, n)
        if inspect.isclass(value) and value.__module__ == module.__name__ and value is not tg.Tensor:
            missing += [f"{n}.{m}" for m in public_members(value) if m not in documented]
    assert not missing, f"docs/api.md's tg.{name} section lacks: {missing}"


def test_api_completeness_check_can_fail():
    sections = {"`tg.demo`": {"documented"}}
    assert section(sections, "`tg.demo`") == {"documented"}
    with pytest.raises(AssertionError, match="exactly one"):
        section(sections, "`tg.missing`")
    assert "Tensor" in public_names(importlib.import_module("tinygrad_gd.tensor"))
    assert "Add" in public_names(importlib.import_module("tinygrad_gd.ops"))  # no __all__ there
    assert "np" not in public_names(importlib.import_module("tinygrad_gd.ops"))
    assert {"forward", "state_dict", "parameters"} <= set(public_members(tg.nn.Module))
