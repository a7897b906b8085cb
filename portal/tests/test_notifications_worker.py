"""A notification batch whose whole worker is killed (SIGKILL, main process and pool) while it sends a
row is finished by the next worker: the broker's lease hands the batch message back, the rows already
sent are skipped, the others sent.

No test hook in the code under test: the local group robot holds the third row's request unanswered
until the worker is killed. Needs PostgreSQL and Redis (marker ``worker``).
"""

from __future__ import annotations

import json
import tempfile
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from portal import notifications
from portal.models import NotificationLog
from portal.tasks import deliver_notifications_task
from portal.tests.processes import kill_group, kill_running, start_worker

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

ROWS = 6
HOLD_AT = 3  # the robot's third request is held until the worker is dead


class HoldingRobot(BaseHTTPRequestHandler):
    def do_POST(self):
        server = self.server
        length = int(self.headers["Content-Length"])
        content = json.loads(self.rfile.read(length))["markdown"]["content"]
        with server.lock:
            server.received.append(content)
            held = len(server.received) == HOLD_AT
        if held:
            server.holding.set()
            server.release.wait(60)
        try:
            body = b'{"errcode": 0, "errmsg": "ok"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the worker that asked is dead
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def robot():
    server = ThreadingHTTPServer(("127.0.0.1", 0), HoldingRobot)
    server.received, server.lock = [], threading.Lock()
    server.holding, server.release = threading.Event(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_port}/cgi-bin/webhook/send?key=test"
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def test_a_batch_killed_mid_way_is_finished_by_the_next_worker_and_nothing_sent_twice(robot, monkeypatch):
    monkeypatch.setattr(notifications, "_enqueue", lambda ids: None)  # sent below, to the test's own queue
    rows = [NotificationLog(channel="wecom", target=robot.url, subject=f"第{i}条", body="b") for i in range(ROWS)]
    ids = [log.pk for log in notifications.record(rows)]

    queue = f"test-notify-{uuid.uuid4().hex[:10]}"
    log = Path(tempfile.mkstemp(prefix="celery-notify-", suffix=".log")[1])
    first = second = None
    try:
        first = start_worker(queue, f"{queue}-a@localhost", log)
        result = deliver_notifications_task.apply_async(args=[ids], queue=queue)
        assert robot.holding.wait(60), log.read_text()[-3000:]
        kill_group(first)  # within the robot's 5 s timeout: the third row is being sent
        killed_at = time.monotonic()
        robot.release.set()
        states = list(NotificationLog.objects.order_by("pk").values_list("status", "attempts"))
        assert states == [("sent", 1)] * (HOLD_AT - 1) + [("pending", 0)] * (ROWS - HOLD_AT + 1)

        second = start_worker(queue, f"{queue}-b@localhost", log)
        summary = result.get(timeout=90)
        took = time.monotonic() - killed_at
    finally:
        kill_running(first, second)
    output = log.read_text()
    log.unlink(missing_ok=True)

    print(f"killed batch finished by the next worker {took:.1f}s after the kill")  # shown with pytest -s
    assert summary == {"skipped": HOLD_AT - 1, "sent": ROWS - HOLD_AT + 1}, output[-3000:]
    assert set(NotificationLog.objects.values_list("status", "attempts")) == {("sent", 1)}
    # Each row told once; the one cut off between its post and its commit was posted again.
    counts = Counter(content.split("**")[1] for content in robot.received)
    assert counts == {f"第{i}条": 2 if i == HOLD_AT - 1 else 1 for i in range(ROWS)}
