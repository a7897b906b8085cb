"""The runner: hits become detections and suspected violations once; reruns, dismissals, unmatched
senders, evidence excerpts that outlive the purge, the audit entry, the import signal and the command."""

import datetime

import pytest
from auditlog.models import LogEntry
from django.core.management import call_command
from django.utils import timezone

from groups.chat.retention import purge_chat_bodies
from groups.models import ChatMessage, RosterSettings
from portal.choices import Channel
from violations import services
from violations.choices import ViolationStatus
from violations.detection import quiet_hours, redpacket, runner
from violations.models import Detection, DetectionRun, Rule, Violation
from violations.services.detection import detect_chat, detect_new_messages

from .detection_helpers import at, msg

pytestmark = pytest.mark.django_db


@pytest.fixture
def night(org):
    """Five messages in the sales group; two at night (one by an unmatched sender)."""
    group, rep = org["sales_group"], org["east_rep"]
    before = [msg(group, "wx_li", at(2026, 11, 3, 23, m), text=f"前{m}") for m in (20, 25)]
    late = msg(group, "wx_zhangsan", at(2026, 11, 3, 23, 45), employee=rep, text="还在加班")
    stranger = msg(group, "wx_x", at(2026, 11, 3, 23, 50), text="路过")
    after = msg(group, "wx_li", at(2026, 11, 4, 8, 0), text="早")
    return {"group": group, "rep": rep, "late": late, "stranger": stranger, "before": before, "after": after}


def run(**kw):
    return detect_chat(detectors=[quiet_hours.DETECTOR], trigger="test", **kw)


def test_a_hit_becomes_one_suspected_violation(night):
    result = run()
    assert result.status == "done"
    assert result.counts["quiet_hours"] == {"hits": 2, "new": 2, "suspected": 1, "unmatched": 1, "skipped": 0}
    violation = Violation.objects.get()
    assert violation.status == ViolationStatus.SUSPECTED
    assert violation.channel == Channel.DETECTION and violation.recorded_by is None
    assert violation.employee == night["rep"] and violation.group == night["group"]
    assert violation.rule.code == "B06" and violation.occurred_at == night["late"].sent_at
    assert violation.description == violation.detection.reason
    unmatched = Detection.objects.get(employee__isnull=True)
    assert unmatched.violation is None and unmatched.sender_platform_id == "wx_x"
    assert violation.detection.message_ids == [night["late"].pk]


def test_rerun_and_overlapping_windows_add_nothing(night):
    run()
    again = run(since=at(2026, 11, 3, 23), until=at(2026, 11, 5))
    assert again.counts["quiet_hours"]["new"] == 0 and again.counts["quiet_hours"]["hits"] == 2
    assert Violation.objects.count() == 1 and Detection.objects.count() == 2


def test_a_dismissed_suspicion_stays_dismissed(night, hr):
    run()
    violation = Violation.objects.get()
    services.dismiss_violation(violation, "加班通知,非闲聊", acting_user=hr)
    run()
    assert Violation.objects.get().status == ViolationStatus.DISMISSED


def test_excerpt_has_context_and_survives_the_purge(night):
    run()
    detection = Detection.objects.get(violation__isnull=False)
    lines = detection.excerpt
    assert [line["text"] for line in lines] == ["前20", "前25", "还在加班", "路过"]  # 08:00 is more than 30 min away
    assert [line["trigger"] for line in lines] == [False, False, True, False]
    assert lines[2]["sender"] == "wx_zhangsan" and lines[2]["sent_at"].startswith("2026-11-03T15:45")
    assert lines[2]["local_time"] == "2026-11-03 23:45:00" and lines[2]["kind_label"] == "文本"
    RosterSettings.objects.update(chat_retention_days=1)
    assert purge_chat_bodies() == 5
    assert ChatMessage.objects.get(pk=night["late"].pk).text is None
    detection.refresh_from_db()
    assert detection.excerpt == lines


def test_the_purge_clears_the_excerpts_that_make_no_case(night, hr):
    """An unmatched sender's detection and a dismissed suspicion's lose their excerpt texts with the
    messages' bodies; a case (here: pending, then confirmed) keeps its evidence."""
    run()
    case = Detection.objects.get(violation__isnull=False)
    unmatched = Detection.objects.get(violation__isnull=True)
    RosterSettings.objects.update(chat_retention_days=1)
    purge_chat_bodies()
    unmatched.refresh_from_db()
    case.refresh_from_db()
    assert len(unmatched.excerpt) == 3 and {line["text"] for line in unmatched.excerpt} == {""}
    assert [line["sender"] for line in unmatched.excerpt] == ["wx_li", "wx_zhangsan", "wx_x"]  # who and when stay
    assert unmatched.excerpt_purged_at is not None
    assert unmatched.excerpt[0]["kind_label"] == "内容已按保留期限清除"
    assert "还在加班" in [line["text"] for line in case.excerpt] and case.excerpt_purged_at is None
    entry = LogEntry.objects.filter(additional_data__purged=1, content_type__model="detection").get()
    assert entry.additional_data["cutoff"]
    services.dismiss_violation(case.violation, "加班通知,非闲聊", acting_user=hr)
    purge_chat_bodies()  # the next day's run
    case.refresh_from_db()
    assert {line["text"] for line in case.excerpt} == {""}
    run()  # detection again: the dismissed suspicion stays dismissed, nothing new
    assert Violation.objects.get().status == ViolationStatus.DISMISSED and Detection.objects.count() == 2


def test_audit_summary_names_the_suspicions(night):
    result = run()
    entry = LogEntry.objects.filter(additional_data__run=result.pk).get()
    assert entry.additional_data["violations"] == [Violation.objects.get().pk]
    assert entry.action == LogEntry.Action.CREATE


def test_batches_cost_a_fixed_number_of_queries(org, django_assert_max_num_queries, monkeypatch):
    group = org["sales_group"]
    for i in range(60):
        msg(group, f"wx_{i}", at(2026, 11, 3, 23, 31) + datetime.timedelta(seconds=i), employee=org["east_rep"])
    monkeypatch.setattr(runner, "BATCH", 1000)
    # planning the run and its chunk, running and ending the chunk: ~12; the batch of 60: ~20
    with django_assert_max_num_queries(36):
        result = run()
    assert result.counts["quiet_hours"]["suspected"] == 60


def test_a_switched_off_rule_makes_nothing(night):
    Rule.objects.filter(code="B06").update(is_active=False)
    result = run()
    assert result.counts["quiet_hours"]["skipped"] == 2 and not Detection.objects.exists()


def test_a_failing_detector_is_recorded_and_the_others_run(night):
    from violations.detection.base import Detector

    def broken(window):
        raise RuntimeError("boom")
        yield

    result = detect_chat(detectors=[Detector("broken", ("B06",), broken), quiet_hours.DETECTOR])
    assert result.status == "failed" and result.errors == ["broken: boom"]
    assert result.counts["quiet_hours"]["new"] == 2


def test_killed_half_way_the_rerun_completes(night, monkeypatch):
    msg(night["group"], "wx_zhangsan", at(2026, 11, 3, 23, 55), kind="redpacket", employee=night["rep"])
    calls = {"n": 0}
    real = runner.store

    def dies_on_second(batch, progress):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt  # the worker is killed: nothing of this batch is written
        return real(batch, progress)

    monkeypatch.setattr(runner, "store", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        detect_chat(detectors=[quiet_hours.DETECTOR, redpacket.DETECTOR])
    assert DetectionRun.objects.get().status == "running"
    assert Detection.objects.filter(detector="quiet_hours").count() == 3  # the red envelope was at night too
    assert not Detection.objects.filter(detector="redpacket").exists()
    monkeypatch.setattr(runner, "store", real)
    again = detect_chat(detectors=[quiet_hours.DETECTOR, redpacket.DETECTOR])
    assert again.counts["quiet_hours"]["new"] == 0 and again.counts["redpacket"]["new"] == 1
    assert Violation.objects.suspected().count() == 3  # 2 B06 of the matched sender + 1 B05


def test_bad_windows_and_groups_are_refused(night):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="--until"):
        run(since=at(2026, 11, 4), until=at(2026, 11, 3))
    with pytest.raises(ValidationError, match="没有这些工作群"):
        run(group_ids=[999999])


def test_the_command(night, capsys):
    call_command("detect_chat", "--since", "2026-11-03", "--until", "2026-11-04", "--group", str(night["group"].pk))
    out = capsys.readouterr().out
    assert "quiet_hours: hits=2 new=2 suspected=1 unmatched=1" in out
    assert Violation.objects.suspected().count() == 1


def test_nightly_covers_what_was_imported_since_the_last_pass(night):
    first = detect_new_messages()
    assert first.status == "done" and Violation.objects.suspected().count() >= 1
    count = Detection.objects.count()
    assert detect_new_messages().counts.get("quiet_hours", {}).get("hits", 0) == 0  # nothing new imported
    msg(night["group"], "wx_zhangsan", at(2026, 11, 10, 23, 59), employee=night["rep"])
    third = detect_new_messages()
    assert third.counts["quiet_hours"]["new"] == 1 and Detection.objects.count() == count + 1


def test_a_chat_import_is_followed_by_detection(org, hr, django_capture_on_commit_callbacks):
    from groups.chat.store import import_chat_file
    from groups.models import Membership
    from groups.tests.chat_helpers import WECOM, wecom_group

    group = wecom_group(org)
    Membership.objects.create(group=group, platform_id="ZhangSan", nickname="张三", employee=org["tech_dev"])
    with django_capture_on_commit_callbacks(execute=True):
        job = import_chat_file(WECOM, group=group, acting_user=hr)
    assert job.status == "done"
    run_ = DetectionRun.objects.get(trigger="import")
    assert run_.group_ids == [group.pk] and run_.status == "done"
    assert Violation.objects.suspected().filter(rule__code="B05", employee=org["tech_dev"]).exists()
    assert timezone.now() - run_.started_at < datetime.timedelta(minutes=5)


def test_the_violation_page_shows_the_evidence_and_reading_it_is_audited(night, hr, client):
    run()
    violation = Violation.objects.get()
    client.force_login(hr)
    page = client.get(f"/admin/violations/violation/{violation.pk}/change/").content.decode()
    assert 'data-testid="evidence"' in page and "还在加班" in page and "前25" in page
    assert f"/admin/groups/chatmessage/{night['late'].pk}/change/" in page
    entry = LogEntry.objects.filter(action=LogEntry.Action.ACCESS, actor=hr).latest("timestamp")
    assert entry.object_pk == str(violation.detection.pk)


def test_group_quiet_hours_and_flood_settings_are_audited(org, hr, client):
    client.force_login(hr)
    response = client.post(
        "/admin/violations/groupdetectionsettings/add/",
        {"group": org["sales_group"].pk, "quiet_hours_start": "22:00", "quiet_hours_end": "07:00"},
    )
    assert response.status_code == 302
    from violations.models import GroupDetectionSettings

    settings = GroupDetectionSettings.objects.get()
    assert LogEntry.objects.get_for_object(settings).get().actor == hr
    bad = client.post(
        "/admin/violations/groupdetectionsettings/add/", {"group": org["tech_group"].pk, "quiet_hours_start": "22:00"}
    )
    assert bad.status_code == 200 and "同时填写" in bad.content.decode()


def test_flood_thresholds_are_hr_settings_and_audited(hr):
    from violations.models import CompanySettings

    settings = CompanySettings.load()
    assert (settings.flood_max_messages, settings.flood_max_images, settings.flood_window_seconds) == (10, 5, 60)
    settings.flood_max_messages = 20
    services.save_company_settings(settings, acting_user=hr)
    entry = LogEntry.objects.get_for_object(settings).latest("timestamp")
    assert entry.actor == hr and entry.changes_dict["flood_max_messages"] == ["10", "20"]
    settings.flood_window_seconds = 0
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        services.save_company_settings(settings, acting_user=hr)


def test_postgresql_copies_the_batch_and_keeps_everything(night, monkeypatch):
    """On PostgreSQL the batch goes in by COPY (the careful path is not used); on SQLite by bulk inserts.
    Either way the detection carries its violation and its messages' ids, and the audit names both."""
    from django.db import connection

    if connection.vendor == "postgresql":

        def not_used(rows):
            raise AssertionError("the COPY path should have stored the batch")

        monkeypatch.setattr(runner, "_insert_detections", not_used)
    result = run()
    violation = Violation.objects.get()
    detection = Detection.objects.get(violation=violation)
    assert detection.run == result and detection.rule.code == "B06" and detection.created_at is not None
    assert violation.status == ViolationStatus.SUSPECTED and violation.created_at is not None
    assert detection.message_ids == [night["late"].pk]
    assert Detection.objects.get(employee__isnull=True).message_ids == [night["stranger"].pk]
    entry = LogEntry.objects.filter(additional_data__run=result.pk).get()
    assert entry.additional_data["detections"] == [detection.pk]


@pytest.mark.postgres
def test_the_copied_rows_are_those_the_careful_path_writes(night, monkeypatch):
    """PostgreSQL: every column of the COPYed detections and violations (defaults included) is what
    the careful path (bulk inserts, read back, linked) writes for the same hits."""
    from django.db import IntegrityError

    def stored():
        skip = {"id", "run_id", "violation_id", "created_at", "updated_at"}
        rows = []
        for model in (Detection, Violation):
            names = [f.attname for f in model._meta.concrete_fields if f.attname not in skip]
            rows.append(sorted(model.objects.values_list(*names), key=repr))
        linked = sorted(Detection.objects.filter(violation__isnull=False).values_list("key", "violation__description"))
        return rows, linked, Violation.objects.filter(created_at__isnull=True).count()

    run()
    copied = stored()
    Detection.objects.all().delete()
    Violation.objects.all().delete()

    def conflict(rows, progress):
        raise IntegrityError("as if another run had stored a key meanwhile")

    monkeypatch.setattr(runner, "_store_copied", conflict)
    run()
    assert stored() == copied
    assert copied[0][0] and copied[0][1] and copied[1] and copied[2] == 0


def test_postgresql_batches_commit_without_waiting_for_the_disk(night, monkeypatch):
    """PostgreSQL: each batch's transaction runs with synchronous_commit off (a lost batch is found
    again by the next run); SQLite has no such setting and is left alone."""
    from django.db import connection

    seen = []
    if connection.vendor == "postgresql":
        copied = runner._store_copied

        def recording(rows, progress):
            with connection.cursor() as cur:
                cur.execute("SHOW synchronous_commit")
                seen.append(cur.fetchone()[0])
            return copied(rows, progress)

        monkeypatch.setattr(runner, "_store_copied", recording)
    else:
        monkeypatch.setattr(runner, "_commit_without_waiting", lambda: seen.append("called"))
    run()
    assert seen == (["off"] if connection.vendor == "postgresql" else [])
    assert Violation.objects.count() == 1


def test_a_key_stored_meanwhile_by_another_run_is_not_stored_twice(night, monkeypatch):
    """A concurrent run stores one of the batch's keys between the lookup and the insert: the batch
    still stores the others once, the stored one is left alone, and no violation is left unlinked."""
    first = run()
    taken = Detection.objects.get(employee__isnull=False)
    Violation.objects.all().delete()  # as if the other run's violation were its own business
    Detection.objects.exclude(pk=taken.pk).delete()
    real = runner._fresh

    def forgets_the_stored_key(batch, progress):
        fresh = real(batch, progress)
        return fresh + [hit for hit in batch if hit.key == taken.key]

    monkeypatch.setattr(runner, "_fresh", forgets_the_stored_key)
    again = run()
    assert again.counts["quiet_hours"]["new"] == 1  # the stranger's, again
    assert Detection.objects.count() == 2 and Detection.objects.get(pk=taken.pk).run == first
    assert not Violation.objects.filter(detection__isnull=True).exists()


def test_each_triggering_message_brings_its_own_context(org):
    """A hit with two triggering messages far apart (a repeated advertisement) shows each with its
    two neighbours, not the hundred messages between them; the same on both databases."""
    from violations.detection.base import Hit

    group = org["sales_group"]
    start = at(2026, 11, 3, 10, 0)
    chat = [msg(group, "wx_li", start + datetime.timedelta(minutes=i), text=f"m{i}") for i in range(100)]
    hit = Hit(
        detector="repeated_ad", rule_code="C06", key="t:1", group_id=group.pk, occurred_at=chat[90].sent_at,
        reason="重复广告", message_ids=(chat[90].pk, chat[10].pk),
    )  # fmt: skip
    lines = runner.excerpts([hit])[("repeated_ad", "t:1")]
    assert [line["text"] for line in lines] == ["m8", "m9", "m10", "m11", "m12", "m88", "m89", "m90", "m91", "m92"]
    assert [line["text"] for line in lines if line["trigger"]] == ["m10", "m90"]


def test_hits_showing_the_same_messages_each_store_it_and_keep_their_own_violation(org, hr):
    """A directive's silent members show the same messages: each stores that excerpt, and each hit
    keeps its own person, key and violation (the COPY path on PostgreSQL, the careful path on SQLite)."""
    from violations.detection.base import Hit

    group = org["sales_group"]
    start = at(2026, 11, 3, 10, 0)
    chat = [msg(group, "wx_li", start + datetime.timedelta(minutes=i), text=f"m{i}") for i in range(6)]
    people = [org["east_rep"], org["tech_dev"], org["sales_head"]]
    hits = [
        Hit(detector="directive_unanswered", rule_code="R01", key=f"t:{n}", group_id=group.pk,
            occurred_at=chat[2].sent_at, reason=f"未回复 {person.name}", employee_id=person.pk,
            message_ids=(chat[2].pk,) if n < 2 else (chat[2].pk, chat[4].pk))
        for n, person in enumerate(people)
    ]  # fmt: skip
    run_ = DetectionRun.objects.create(trigger="test")
    made = runner.store(hits, runner.progress_for(run_))
    assert len(made) == 3
    stored = {d.key: d for d in Detection.objects.select_related("violation")}
    for n, person in enumerate(people):
        detection = stored[f"t:{n}"]
        assert detection.employee == person and detection.violation.employee == person
        assert detection.violation.description == f"未回复 {person.name}" and detection.violation.rule.code == "R01"
        assert detection.violation.status == ViolationStatus.SUSPECTED and detection.violation.group == group
    silent = [line["text"] for line in stored["t:0"].excerpt]
    assert silent == ["m0", "m1", "m2", "m3", "m4"] == [line["text"] for line in stored["t:1"].excerpt]
    assert [line["text"] for line in stored["t:2"].excerpt if line["trigger"]] == ["m2", "m4"]
    assert [line["text"] for line in stored["t:0"].excerpt if line["trigger"]] == ["m2"]
    assert len({v.pk for v in Violation.objects.all()}) == 3


@pytest.mark.postgres
def test_excerpts_are_compressed_with_lz4_where_the_server_has_it():
    """violations 0024: the excerpt column's compression is lz4 on a server built with it."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT 'lz4' = ANY(enumvals) FROM pg_settings WHERE name = 'default_toast_compression'")
        has_lz4 = cursor.fetchone()[0]
        cursor.execute(
            "SELECT attcompression FROM pg_attribute WHERE attrelid = 'violations_detection'::regclass "
            "AND attname = 'excerpt'"
        )
        assert cursor.fetchone()[0] == ("l" if has_lz4 else "")
