"""The class report: its tables (CSV) and its page (HTML)."""
