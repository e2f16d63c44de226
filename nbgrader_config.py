"""nbgrader settings for the digitlab course. Run nbgrader commands from this folder."""

c = get_config()  # noqa: F821 - nbgrader provides get_config when it loads this file

# The source notebooks (with solutions and hidden tests) live in notebooks/<assignment>/.
c.CourseDirectory.source_directory = "notebooks"
