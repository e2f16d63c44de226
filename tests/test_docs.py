"""The documentation: the MkDocs site builds in strict mode, and README.md's links resolve.

Strict mode turns each of mkdocs.yml's validation warnings into a failed build: a link to a
missing page or heading, a page under docs/ left out of the navigation, an absolute link.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# [text](target) and ![alt](target); a target ends at whitespace or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # http:, https:, mailto:, ...


def build_strict(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    """`mkdocs build --strict` of the project's mkdocs.yml into site; its output captured.

    Never with --quiet: it hides warnings from the counter that strict mode fails on."""
    return subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict",
         "--config-file", str(project / "mkdocs.yml"), "--site-dir", str(site)],
        capture_output=True, text=True, cwd=project, timeout=300)


def test_the_site_builds_in_strict_mode(tmp_path):
    built = build_strict(ROOT, tmp_path / "site")
    assert built.returncode == 0, f"mkdocs build --strict failed:\n{built.stdout}{built.stderr}"
    pages = sorted(path.relative_to(ROOT / "docs").with_suffix("")
                   for path in (ROOT / "docs").rglob("*.md"))
    for page in pages:
        html = tmp_path / "site" / ("index.html" if page.name == "index"
                                    else page / "index.html")
        assert html.is_file(), f"docs/{page}.md built no {html.relative_to(tmp_path)}"


def test_a_broken_link_fails_the_strict_build(tmp_path):
    """The negative control: strict mode must catch what the build above promises to."""
    project = tmp_path / "project"
    shutil.copytree(ROOT / "docs", project / "docs")
    shutil.copy(ROOT / "mkdocs.yml", project / "mkdocs.yml")
    index = project / "docs" / "index.md"
    index.write_text(index.read_text() + "\nSee [nowhere](no-such-page.md).\n")
    built = build_strict(project, tmp_path / "site")
    assert built.returncode != 0
    assert "no-such-page.md" in built.stdout + built.stderr


def relative_links(markdown: str) -> list[str]:
    """The link targets of a Markdown text that point into the repository (code blocks skipped)."""
    prose = re.sub(r"```.*?```", "", markdown, flags=re.DOTALL)
    prose = re.sub(r"`[^`\n]*`", "", prose)
    return [target for target in LINK.findall(prose)
            if not EXTERNAL.match(target) and not target.startswith("#")]


def test_every_relative_link_in_the_readme_resolves():
    targets = relative_links(README.read_text())
    assert targets, "README.md links to no file: the check would pass on nothing"
    missing = [target for target in targets
               if not (ROOT / target.split("#")[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"


def test_the_link_check_skips_code_and_addresses():
    assert relative_links("[a](docs/a.md) [b](https://example.org) `[c](d.md)`\n"
                          "```\n[e](f.md)\n```\n") == ["docs/a.md"]


def test_the_readme_opens_with_the_two_commands():
    first_block = README.read_text().split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.strip().splitlines()]
    assert commands == ["python3 dev.py lab", "python3 dev.py test"]


def ci_users() -> dict[str, tuple[int, int]]:
    """{user family: (first, last number)} of the system users .ci/run makes, from its loop
    `for user in digitlab-grader-{1..6} ...; do`."""
    loop = re.search(r"^for user in (.+); do$", (ROOT / ".ci" / "run").read_text(), re.M)
    assert loop, ".ci/run has no `for user in ...; do` loop"
    ranges = [re.fullmatch(r"([\w-]+)-\{(\d+)\.\.(\d+)\}", word) for word in loop[1].split()]
    assert all(ranges), loop[1]
    return {found[1]: (int(found[2]), int(found[3])) for found in ranges}


def test_the_contributing_guide_names_the_users_ci_makes():
    from test_sandbox import SLOT, USERS  # the sandbox tests' own users, slots 1 to SLOT

    users = ci_users()
    assert users[USERS] == (1, SLOT)
    assert users["digitlab-grader"] == (1, 6)
    guide = " ".join((ROOT / "docs" / "contributing.md").read_text().split())
    assert ("the grading users `digitlab-grader-1` to `-6` (the suite grades up to six "
            "kernels at once) and the sandbox tests' own two, `digitlab-sandbox-test-1` and "
            "`-2`") in guide
