"""Every periodic job in the beat schedule names a task the worker knows (a renamed task fails here)."""

from portal.celery import app


def test_every_beat_entry_names_a_registered_task():
    app.loader.import_default_modules()
    unknown = {name: entry["task"] for name, entry in app.conf.beat_schedule.items() if entry["task"] not in app.tasks}
    assert not unknown, f"beat entries naming no registered task: {unknown}"
    assert len(app.conf.beat_schedule) >= 5
