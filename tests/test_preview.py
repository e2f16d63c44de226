"""`digitlab preview` runs the source notebooks for real, outside nbgrader, writes one HTML
page per notebook with every figure and no traceback, and keeps the ran notebooks; bad input
gets a message that says what is wrong, and exit status 1. The preview of the lab's own
notebooks is conftest's source_preview, which test_source_notebooks reads too."""

import re
from pathlib import Path

import nbformat
from course_builder import ASSIGNMENT, NOTEBOOKS, SOURCE, preview, tree_digest
from nbformat.v4 import new_code_cell, new_notebook

# An output's picture, inline; the page's own icons are not <img> elements.
INLINE_PNG = re.compile(r'<img [^>]*src="data:image/png;base64,')
# The experiments' message when they are skipped, as printed output (in the code, it is a string).
SKIPPED = re.compile(r"(^|<pre>)Skipped while nbgrader", re.MULTILINE)
STDERR = 'data-mime-type="application/vnd.jupyter.stderr"'  # how a page shows errors
FIGURES_LINE = re.compile(r"^(?P<notebook>\S+\.ipynb): ran in [\d.]+ s, (?P<figures>\d+) "
                          r"figures -> (?P<page>\S+\.html)$", re.MULTILINE)


def test_every_source_notebook_runs_and_gets_a_page(source_preview):
    run, _, out = source_preview
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"{len(NOTEBOOKS)} of {len(NOTEBOOKS)} notebooks ran, with the answer key" in run.stdout
    reported = {match["notebook"]: match for match in FIGURES_LINE.finditer(run.stdout)}
    assert sorted(reported) == NOTEBOOKS
    assert sorted(path.name for path in out.iterdir()) == [
        *(name.replace(".ipynb", ".html") for name in NOTEBOOKS), f"ran-{ASSIGNMENT}"]
    assert f"the ran notebooks are in {out / f'ran-{ASSIGNMENT}'}." in run.stdout
    for name, match in reported.items():
        assert Path(match["page"]) == out / name.replace(".ipynb", ".html")


def test_the_pages_hold_every_figure_and_no_traceback(source_preview):
    run, _, out = source_preview
    reported = {match["notebook"]: int(match["figures"])
                for match in FIGURES_LINE.finditer(run.stdout)}
    for name in NOTEBOOKS:
        page = (out / name.replace(".ipynb", ".html")).read_text()
        assert len(INLINE_PNG.findall(page)) == reported[name], name  # every figure, inline
        assert "Traceback" not in page and STDERR not in page, name
        assert not SKIPPED.search(page), name  # the experiments trained
        if not name.startswith("01"):
            assert reported[name] >= 2, name  # the scripted experiments' figures
            # A panel shows as its stand-in text, not as "VBox(children=...".
            assert "an interactive panel" in page and "VBox(" not in page, name


def test_hidden_tests_ran_with_the_key_and_the_source_is_untouched(source_preview):
    run, before, out = source_preview
    competition = next(name for name in NOTEBOOKS if name.startswith("05"))
    page = (out / competition.replace(".ipynb", ".html")).read_text()
    assert "Competition accuracy:" in page and "Not checked in the notebook" not in page
    assert tree_digest(SOURCE) == before  # notebook 05's submission.csv went to a copy


def test_an_unknown_assignment_is_named_with_the_ones_there(tmp_path):
    run = preview("digit-lob", "--out", str(tmp_path / "pages"))
    assert run.returncode == 1
    assert "No source notebooks for the assignment 'digit-lob'" in run.stdout
    assert "The assignments there: digit-lab." in run.stdout
    assert not (tmp_path / "pages").exists()


def test_pages_may_not_go_where_nbgrader_would_release_them():
    inside = SOURCE / "preview"
    run = preview(ASSIGNMENT, "--out", str(inside))
    assert run.returncode == 1 and "inside the source folder" in run.stdout
    assert not inside.exists()


def test_a_missing_key_that_was_asked_for_is_said(tmp_path):
    run = preview(ASSIGNMENT, "--out", str(tmp_path), "--key", str(tmp_path / "no-key.csv"))
    assert run.returncode == 1 and "no-key.csv does not exist" in run.stdout


def test_a_failing_notebook_is_named_with_its_cell_and_the_others_still_run(tmp_path):
    lab = tmp_path / "source" / "lab"  # nbgrader's default source folder: no config here
    lab.mkdir(parents=True)
    broken = new_notebook(cells=[
        new_code_cell("x = 1"),
        new_code_cell("# the hidden test\nraise ValueError('broken on purpose')",
                      metadata={"nbgrader": {"grade_id": "test-broken", "grade": True}}),
        new_code_cell("print('ran', 6 * 7)")])
    figure = new_notebook(cells=[new_code_cell(
        "from matplotlib.figure import Figure\n"
        "from IPython.display import Image\n"
        "import io\n"
        "figure = Figure()\n"
        "figure.subplots().plot([1, 2, 3])\n"
        "png = io.BytesIO()\n"
        "figure.savefig(png, format='png')\n"
        "Image(png.getvalue())")])
    for name, notebook in (("a-broken.ipynb", broken), ("b-figure.ipynb", figure)):
        notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                           "language": "python"}
        nbformat.write(notebook, lab / name)
    out = tmp_path / "pages"
    run = preview("lab", "--out", str(out), course=tmp_path)
    assert run.returncode == 1
    assert ("a-broken.ipynb FAILED in code cell 2 (test-broken), which starts "
            "'# the hidden test': ValueError: broken on purpose") in run.stdout
    assert "1 of 2 notebooks ran" in run.stdout
    broken_page = (out / "a-broken.html").read_text()
    assert "broken on purpose" in broken_page and STDERR in broken_page  # the error shows
    assert "ran 42" not in broken_page  # the cells after it did not run
    assert len(INLINE_PNG.findall((out / "b-figure.html").read_text())) == 1


def test_a_folder_that_no_preview_made_is_never_replaced(tmp_path):
    kept = tmp_path / f"ran-{ASSIGNMENT}" / "notes.txt"
    kept.parent.mkdir()
    kept.write_text("an instructor's own")
    run = preview(ASSIGNMENT, "--out", str(tmp_path))
    assert run.returncode == 1
    assert f"{kept.parent} exists and no preview made it" in run.stdout
    assert sorted(tmp_path.rglob("*")) == [kept.parent, kept]
    assert kept.read_text() == "an instructor's own"
