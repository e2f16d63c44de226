"""The instructor's side of the lab: checks that run at grading time, outside the student's
kernel, and the class leaderboard of the competition. Nothing on the student's side imports
this package.
"""
