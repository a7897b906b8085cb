"""Roster imports: reading CSV/XLSX files, mapping headers, validating rows, planning and writing.

The flow is the one in STYLE.md: read the whole file (streamed) → validate every row → plan the
changes against the database (the preview) → write everything in one transaction. Services in
``groups.services`` drive it; views, the command and the Celery task only call those services.
"""
