"""The dashboard: the top floor, reading every app (sections, links, rollups with their task and signals, views).

A Django app of its own (label ``dashboard``) so that the core below it imports no domain app.
"""
