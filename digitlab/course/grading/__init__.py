"""The class's autograde, the gradebook, the integrity scan, and the summary shown."""
