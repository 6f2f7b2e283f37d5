"""The analyst's workflow over rule books: audit, coverage, diff, population impact, what-ifs and proposals."""
