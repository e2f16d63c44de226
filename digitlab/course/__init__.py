"""The instructor's side of the lab: checks that run at grading time, outside the student's
kernel. Nothing on the student's side imports this package.
"""
