"""The page: its clauses (``clauses.py``), how a page is split into them (``splitter.py``), the device catalogue
built from its tables (``catalogue.py``) and how a revised page is aligned with the shipped one (``revision.py``).
"""
