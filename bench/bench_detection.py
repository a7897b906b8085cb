"""Chat detection benchmark: every detector over a month of a 50,000-person company's chat groups
against a per-message Python loop doing the same rules, measured in the same run (issue #16).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qungui_dC .venv/bin/python bench/bench_detection.py [--scale 0.01]

Data (built once with COPY into ``<db>_bench_detect[_<scale>]``, kept for reruns; ``--rebuild``):
``bench/data.py``'s company shape at 50,000 employees × scale, 10,000 groups × scale, ~500,000
memberships × scale, then 5,000,000 messages × scale over November 2026, per group in proportion to
its size: short and long texts (some over 200 characters), images, links (some with tracking
parameters, some advertisements), red packets, system lines, night messages, bursts from one
sender, advertisements with spaced-out / full-width variants and repeats, secrets and rumours
keywords, recalled messages, the owner's @-directives answered or not, and notices asking for 收到.

Measured, each in a fresh child process (its own peak RSS, VmHWM of /proc/self/status):
(1) every detector of ``all_detectors()`` over the whole month, hits counted, not kept;
(2) the whole run: ``violations.detection.runner`` when present (its hits become 待核实 violations),
    else the detectors' ``detect()`` one after another (said so in the output);
(3) the baseline: a per-message loop over model instances applying the same rules in Python, with
    the per-message queries such a loop makes for context (earlier posts of an ad, the sender's
    last minute, the answers to a directive); on a sample of groups, extrapolated to all messages
    by message count when the sample is smaller than the data (said so);
(4) the lexicon scan two ways over the same month: every message streamed through the
    Aho–Corasick automaton (SQLite's path) against PostgreSQL's set-based regex prefilter on its own
    normal form with the automaton checking only the rows it returns (PostgreSQL's path); both must
    find the same messages;
(5) ``--workers N``: the whole run split over N processes started together (every N-th chunk each);
(6) ``--celery N`` (needs ``REDIS_URL``): the whole run as the nightly task runs it, planned as chunks
    and one ``detect_chunk_task`` per chunk sent through Redis to N Celery worker processes on a
    queue of their own, wall time to the run's end. ``--only-celery``: only the whole run in one
    process and (6), for their ratio.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import data  # noqa: E402
from bench.memory import peak_mib, reset_peak  # noqa: E402

SHAPE = 3  # bump when the generated messages change
MONTH_START = dt.datetime(2026, 11, 1, tzinfo=data.TZ)
MONTH_END = dt.datetime(2026, 12, 1, tzinfo=data.TZ)
SAMPLE_MESSAGES = 60_000  # the baseline loop's sample (whole groups) at full scale

SHORT = [
    "收到", "好的", "明白", "谢谢", "辛苦了", "明天几点开会", "客户回访表已发", "大家辛苦了", "本季度销售目标",
    "下午三点会议室见", "这个问题我来跟进", "已处理", "报表已上传共享盘", "周报请周五前提交", "我在路上",
    "麻烦确认一下", "方案第二版已更新", "客户说下周再谈", "好的我来处理", "同意", "收到,马上执行",
]  # fmt: skip
LONG_PARTS = [
    "关于本月重点工作安排,请各位同事按照分工推进,", "客户反馈的问题已经汇总整理,详见附件说明,",
    "项目进度目前符合预期,但测试环节仍需加强,", "请大家在周五前完成自评并提交给部门负责人,",
    "下周将组织一次跨部门协调会议,具体时间另行通知,", "针对近期出现的流程问题,我们做了如下调整,",
]  # fmt: skip
ADS = [
    "兼职刷单,日结300,加微信 {n}", "扫码领取优惠券,限时特价", "招商加盟,零投资,加我微信{n}",
    "微商代理招募,详情私信领取",
    "免费领取面膜,加 微 信 {n}", "ＶＸ：{n} 兼职刷单", "优惠券 每天更新 加微信{n}",
]  # fmt: skip
KEYWORD_TEXTS = [
    "这份客户名单先别外发", "内部资料请勿外传", "报价单已发你邮箱", "据说要裁员了", "紧急扩散!!", "财务报表在我这",
    "转发保平安", "这个底价不能对外说",
]  # fmt: skip
LINKS = [
    "https://docs.example.com/d/{n}?utm_source=wechat",
    "https://wiki.example.com/p/{n}",
    "https://oa.example.com/flow/{n}",
]
AD_LINK = "https://shop.example.com/item/{n}?utm_source={s}&spm=a{n}"


# --- data ------------------------------------------------------------------------------------------------


def bench_db(scale: float) -> str:
    """One bench database per scale, so a quick run does not drop the full-scale data."""
    name = os.environ["DATABASE_URL"].rstrip("/").rsplit("/", 1)[-1]
    suffix = "" if scale == 1 else "_" + f"{scale:g}".replace(".", "_")
    return f"{name}_bench_detect{suffix}"


def built_params(db: str) -> dict | None:
    import psycopg

    url = data.admin_url()
    with psycopg.connect(f"{url}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db]).fetchone():
            return None
    with psycopg.connect(f"{url}/{db}", autocommit=True) as conn:
        if not conn.execute("SELECT to_regclass('bench_detect_meta')").fetchone()[0]:
            return None
        row = conn.execute("SELECT value FROM bench_detect_meta WHERE key = 'params'").fetchone()
        return row[0] if row else None


def build(db: str, scale: float) -> None:
    """Drop and build the company and its month of messages (COPY)."""
    data._create(db, drop=True)
    data.setup_django(db)
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    sizes = data.Sizes(
        employees=max(300, int(50_000 * scale)),
        groups=max(20, int(10_000 * scale)),
        memberships=max(200, int(500_000 * scale)),
        violations=0,
        regions=6 if scale >= 0.05 else 3,
        max_group=min(500, max(30, int(50_000 * scale) // 2)),
    )
    world = data.World(sizes, random.Random(1), [], [], [])
    for step in (data.step_departments, data._load_depts, data.step_employees, data._load_depts):
        step(world)
    data.step_groups_and_memberships(world)
    print(f"  company: {sizes}", flush=True)
    started = time.perf_counter()
    count = copy_messages(int(5_000_000 * scale))
    print(f"  {count:,} messages generated and COPYed in {time.perf_counter() - started:.1f} s", flush=True)
    with connection.cursor() as cur:
        cur.execute("ANALYZE")  # every table: the planner needs the departments and memberships too
        cur.execute("CREATE TABLE bench_detect_meta (key text PRIMARY KEY, value jsonb)")
        cur.execute(
            "INSERT INTO bench_detect_meta VALUES ('params', %s)",
            [json.dumps({"scale": scale, "shape": SHAPE, "messages": count})],
        )


def _members() -> dict[int, dict]:
    from django.db import connection

    groups: dict[int, dict] = {}
    with connection.cursor() as cur:
        cur.execute("SELECT id, platform, owner_id FROM groups_chatgroup")
        for gid, platform, owner in cur.fetchall():
            groups[gid] = {"platform": platform, "owner": owner, "members": []}
        cur.execute(
            "SELECT group_id, id, employee_id, platform_id, nickname FROM groups_membership WHERE left_at IS NULL"
        )
        for gid, mid, emp, pid, nick in cur.fetchall():
            groups[gid]["members"].append((mid, emp, pid, nick))
    return groups


def copy_messages(total: int) -> int:
    """The month's messages, group by group, streamed into one COPY."""
    from groups.chat.store import COPY_COLUMNS

    groups = _members()
    weights = {gid: len(g["members"]) for gid, g in groups.items() if len(g["members"]) >= 2}
    scale = total / sum(weights.values())
    rng = random.Random(16)
    now = dt.datetime.now(dt.UTC)

    def rows():
        for gid, size in weights.items():
            g = groups[gid]
            owner = next((m for m in g["members"] if m[1] == g["owner"]), g["members"][0])
            yield from group_messages(rng, gid, g["platform"], g["members"], owner, max(2, round(size * scale)), now)

    return data._copy("groups_chatmessage", list(COPY_COLUMNS), rows())


def _moment(rng: random.Random) -> dt.datetime:
    day = rng.randrange(30)
    if rng.random() < 0.01:  # quiet hours
        minute = rng.choice([rng.randrange(23 * 60 + 30, 24 * 60), rng.randrange(0, 7 * 60 + 30)])
    else:
        minute = rng.randrange(8 * 60 + 30, 19 * 60)
    return MONTH_START + dt.timedelta(days=day, minutes=minute, seconds=rng.randrange(60))


def group_messages(rng, gid, platform, members, owner, n, now):
    """About ``n`` messages of one group in time order (COPY_COLUMNS tuples)."""
    times = sorted(_moment(rng) for _ in range(n))
    out = []
    seq = 0

    def add(at, member, kind, text=None, url=None, title=None, mentions=(), everyone=False, recalled=False):
        nonlocal seq
        seq += 1
        mid, emp, pid, nick = member
        recalled_at = at + dt.timedelta(seconds=10) if recalled else None
        out.append((
            gid, platform, f"b{gid}-{seq}", None, pid, nick, mid, emp, at, kind, text, url, title,
            json.dumps(list(mentions), ensure_ascii=False), everyone, recalled, recalled_at, "", "{}", None, now,
        ))  # fmt: skip

    ad_posters = rng.sample(members, min(len(members), 2))
    for at in times:
        member = rng.choice(members)
        roll = rng.random()
        if roll < 0.60:
            add(at, member, "text", "".join(rng.choice(SHORT) for _ in range(rng.randint(1, 4))))
        elif roll < 0.61:
            body = "".join(rng.choice(LONG_PARTS) for _ in range(rng.randint(4, 14)))
            add(at, member, "text", body)
        elif roll < 0.73:
            add(at, member, "image")
        elif roll < 0.765:
            add(at, member, "link", url=rng.choice(LINKS).format(n=rng.randrange(10**5)), title="文档")
        elif roll < 0.767:
            add(at, member, "redpacket", "恭喜发财,大吉大利")
        elif roll < 0.777:
            add(at, member, "system", "某某加入了群聊")
        elif roll < 0.780:  # an advertisement, often repeated by the same poster, sometimes recalled
            poster = rng.choice(ad_posters)
            ad = rng.choice(ADS).format(n=f"ab{gid % 97}")
            add(at, poster, "text", ad, recalled=rng.random() < 0.1)
        elif roll < 0.781:
            url = AD_LINK.format(n=gid % 50, s=rng.choice(["wx", "qq", "moments"]))
            add(at, rng.choice(ad_posters), "link", url=url, title="限时特价 优惠券")
        elif roll < 0.784:
            add(at, member, "text", rng.choice(KEYWORD_TEXTS))
        elif roll < 0.788:  # a burst: 8 messages in ~20 s
            for k in range(8):
                add(at + dt.timedelta(seconds=k * 2), member, rng.choice(["text", "image"]), "哈哈")
        elif roll < 0.798:  # the owner's directive to one person: mostly answered in time, some late, some not
            target = rng.choice(members)
            add(at, owner, "text", f"@{target[3]} 请今天下班前把报表发我", mentions=[target[3]])
            answer = rng.random()
            if answer < 0.85:
                add(at + dt.timedelta(seconds=rng.randint(30, 1500)), target, "text", "好的,这就去办")
            elif answer < 0.9:
                add(at + dt.timedelta(seconds=rng.randint(1900, 5000)), target, "text", "好的,这就去办")
        elif roll < 0.7985:  # a directive to everyone: most members answer within the half hour
            add(at, owner, "text", "@所有人 请各位今天下班前提交周报", everyone=True)
            for m in members:
                if m is not owner and rng.random() < 0.9:
                    add(at + dt.timedelta(seconds=rng.randint(30, 1700)), m, "text", "好的")
        elif roll < 0.799:  # a notice asking for 收到: most members acknowledge it within two hours
            add(at, owner, "text", "@所有人 明天上午九点全员会议,收到请回复", everyone=True)
            for m in members:
                if m is not owner and rng.random() < 0.95:
                    add(at + dt.timedelta(seconds=rng.randint(10, 7200)), m, "text", "收到")
        else:
            add(at, member, "text", rng.choice(SHORT))
    out.sort(key=lambda r: r[8])
    return out


# --- the children ----------------------------------------------------------------------------------------


def window():
    from django.utils import timezone

    from violations.detection.base import Window

    return Window(since=MONTH_START, until=MONTH_END, now=timezone.now())


def child_detectors(whole: bool = True) -> dict:
    """(1) each detector (the lexicon scan is paid by the first of keyword / repeated_ad and
    reused by the other, as in a real run), then (2) the whole run from a cold scan."""
    from violations.detection.base import all_detectors, hits
    from violations.detection.keywords import shared_scan

    out: dict = {"detectors": []}
    the_month = window()
    with shared_scan():  # as the runner does for a window
        for detector in all_detectors():
            reset_peak()
            started = time.perf_counter()
            count = sum(1 for _hit in hits(detector, the_month))
            out["detectors"].append(
                {"name": detector.name, "rules": detector.rule_codes, "hits": count,
                 "seconds": time.perf_counter() - started, "peak_mib": peak_mib()}
            )  # fmt: skip
            seconds = out["detectors"][-1]["seconds"]
            print(f"  {detector.name}: {count:,} hits, {seconds:.1f} s", file=sys.stderr, flush=True)
    if not whole:
        out["run"] = {"how": "not run (--no-whole-run)", "seconds": float("nan"), "peak_mib": float("nan")}
        return out
    reset_peak()
    started = time.perf_counter()
    out["run"] = whole_run()
    out["run"].update(seconds=time.perf_counter() - started, peak_mib=peak_mib())
    return out


def child_run() -> dict:
    """(2) alone: the whole run from a cold scan."""
    reset_peak()
    started = time.perf_counter()
    out = whole_run()
    out.update(seconds=time.perf_counter() - started, peak_mib=peak_mib())
    return out


def forget_detections() -> None:
    """A rerun stores everything again (the bench data has no other violations)."""
    from django.db import connection

    from violations.models import Detection, Violation

    with connection.cursor() as cur:
        tables = [Detection._meta.db_table, Violation._meta.db_table]
        cur.execute("TRUNCATE " + ", ".join(connection.ops.quote_name(t) for t in tables) + " CASCADE")


def whole_run(group_ids: list[int] | None = None) -> dict:
    """The service a command or the nightly task calls: ``detect_chat`` over the month (chunks of
    groups, the runner storing every hit as a detection and a 待核实 violation)."""
    from violations.services.detection import detect_chat

    if group_ids is None:
        forget_detections()
    w = window()
    run = detect_chat(since=w.since, until=w.until, group_ids=group_ids, trigger="bench")
    return {"how": "violations.services.detection.detect_chat (runner stores every hit)",
            "status": run.status, "errors": run.errors[:3],
            "new": sum(c.get("new", 0) for c in run.counts.values()),
            "suspected": sum(c.get("suspected", 0) for c in run.counts.values())}  # fmt: skip


def child_part(part: int, parts: int) -> dict:
    """(5) one of ``parts`` processes started together, each ``detect_chat`` over its share of the
    groups (every ``parts``-th chunk of ``GROUPS_PER_CHUNK``): what per-chunk Celery tasks on several
    workers would do."""
    from violations.services.detection import _chunks

    chunks = _chunks(None)
    mine = [g for i, chunk in enumerate(chunks) if i % parts == part for g in chunk]
    reset_peak()
    started = time.perf_counter()
    out = whole_run(mine)
    out.update(seconds=time.perf_counter() - started, peak_mib=peak_mib(), groups=len(mine))
    return out


def parallel(db: str, workers: int) -> dict:
    """(5) the whole run split over ``workers`` processes at once; wall time from the first start to
    the last end."""
    data.setup_django(db)
    forget_detections()
    env = {**os.environ, "BENCH_DETECT_DB": db}
    started = time.perf_counter()
    procs = [
        subprocess.Popen([sys.executable, __file__, "--child", "part", "--part", str(i), "--parts", str(workers)],
                         env=env, stdout=subprocess.PIPE, text=True)
        for i in range(workers)
    ]  # fmt: skip
    parts = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    wall = time.perf_counter() - started
    if any(p.returncode for p in procs):
        raise SystemExit("a part failed (its stderr is above)")
    return {"workers": workers, "seconds": wall, "parts": parts,
            "new": sum(p["new"] for p in parts), "peak_mib": max(p["peak_mib"] for p in parts)}  # fmt: skip


def celery_fanout(db: str, workers: int, redis_url: str) -> dict:
    """(6) the whole run as the nightly task runs it: planned here, one ``detect_chunk_task`` per
    chunk sent through Redis to ``workers`` Celery worker processes (one task at a time each) on a
    queue of their own; wall time from sending the first chunk to the run's end."""
    import uuid

    from portal.celery import app
    from violations import tasks
    from violations.services.detection import _plan

    forget_detections()
    queue = f"bench-detect-{uuid.uuid4().hex[:8]}"
    env = {**os.environ, "DATABASE_URL": f"{data.admin_url()}/{db}", "REDIS_URL": redis_url, "DEBUG": "0",
           "SECRET_KEY": "bench-" + uuid.uuid4().hex * 2, "ALLOWED_HOSTS": "localhost", "CELERY_QUEUE": queue,
           "LOG_LEVEL": "WARNING", "DB_CONN_MAX_AGE": "0"}  # fmt: skip
    names = [f"{queue}-{i}@localhost" for i in range(workers)]
    procs = [
        subprocess.Popen([sys.executable, "-m", "celery", "-A", "portal", "worker", "--pool=solo", "-n", name,
                          "-Q", queue, "--without-gossip", "--without-mingle", "--loglevel=WARNING"],
                         cwd=ROOT, env=env)
        for name in names
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while not all(app.control.ping(destination=[n], timeout=1) for n in names):
            if time.monotonic() > deadline or any(p.poll() is not None for p in procs):
                raise SystemExit("the bench's Celery workers did not start")
        w = window()
        run = _plan(w.since, w.until, None, acting_user=None, trigger="bench-celery")
        started = time.perf_counter()
        from violations.models import DetectionChunk, DetectionRun

        ids = list(run.chunks.order_by("index").values_list("pk", flat=True))
        for chunk_id in ids:
            tasks.detect_chunk_task.apply_async((chunk_id,), queue=queue)
        while DetectionRun.objects.filter(pk=run.pk, status="running").exists():
            time.sleep(0.5)
        wall = time.perf_counter() - started
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
    run.refresh_from_db()
    per_worker: dict[str, int] = {}
    for worker in DetectionChunk.objects.filter(run=run).values_list("worker", flat=True):
        per_worker[worker] = per_worker.get(worker, 0) + 1
    return {"workers": workers, "seconds": wall, "status": run.status, "errors": run.errors[:3],
            "chunks": len(ids), "chunks_per_worker": sorted(per_worker.values()),
            "new": sum(c.get("new", 0) for c in run.counts.values())}  # fmt: skip


def child_baseline(sample_messages: int) -> dict:
    """(3) the per-message loop on whole groups until the sample size, extrapolated by message count."""
    from groups.models import ChatMessage
    from violations.detection.base import all_detectors

    present = {code for d in all_detectors() for code in d.rule_codes}
    loop = Baseline(present)
    total = ChatMessage.objects.filter(sent_at__gte=MONTH_START, sent_at__lt=MONTH_END).count()
    group_ids = list(ChatMessage.objects.order_by().values_list("group_id", flat=True).distinct())
    random.Random(5).shuffle(group_ids)
    reset_peak()
    seen = 0
    started = time.perf_counter()
    for gid in group_ids:
        seen += loop.group(gid)
        if seen >= sample_messages:
            break
    seconds = time.perf_counter() - started
    return {"rules": sorted(loop.rules), "sample": seen, "total": total, "sample_seconds": seconds,
            "seconds": seconds * total / max(seen, 1), "hits": loop.hits, "peak_mib": peak_mib(),
            "extrapolated": seen < total}  # fmt: skip


class Baseline:
    """The obvious Python implementation: every message as a model instance, every rule checked on
    it in turn, context fetched per message when a rule needs it."""

    def __init__(self, present: set[str]) -> None:
        from violations.detection.text import normalise
        from violations.models import CompanySettings, LexiconEntry
        from violations.models.lexicon import pattern_regex

        self.rules = present & {"C01", "C02", "C03", "C04", "C05", "S01", "B02", "C06", "B06", "C09", "B05", "C10",
                                "R01", "R03"}  # fmt: skip
        self.normalise = normalise
        self.entries = [
            (code, kind, text, pattern_regex(text) if kind == "pattern" else None)
            for code, kind, text in LexiconEntry.objects.active().values_list("rule__code", "kind", "text")
            if code in self.rules
        ]
        self.settings = CompanySettings.objects.first()
        self.hits = 0
        from django.utils import timezone

        from groups.models import Department
        from violations.detection.responsiveness import WorkingClock
        from violations.models import DirectiveSettings

        self.directives = DirectiveSettings.load()
        self.clock = WorkingClock.from_settings(self.directives)
        self.limit = dt.timedelta(minutes=CompanySettings.load().directive_answer_minutes)
        self.paths = dict(Department.objects.values_list("pk", "path"))
        self.now = timezone.now()

    def matches(self, m) -> set[str]:
        from violations.detection.text import host_matches, url_host, urls_in

        body = self.normalise((m.text or "") + (m.link_title or ""))
        hosts = [url_host(u) for u in [m.link_url or "", *urls_in(m.text)] if u]
        found = set()
        for code, kind, text, regex in self.entries:
            if (
                (kind == "word" and text in body)
                or (kind == "pattern" and regex.search(body))
                or (kind == "domain" and any(host_matches(h, text) for h in hosts))
            ):
                found.add(code)
        return found

    def group(self, gid: int) -> int:
        from groups.models import ChatMessage

        n = 0
        for m in ChatMessage.objects.filter(group_id=gid, sent_at__gte=MONTH_START, sent_at__lt=MONTH_END):
            n += 1
            self.message(m)
        return n

    def message(self, m) -> None:
        import datetime as _dt
        from zoneinfo import ZoneInfo

        from groups.models import ChatMessage

        rules = self.rules
        local = m.sent_at.astimezone(ZoneInfo("Asia/Shanghai")).time()
        if "B06" in rules and (local >= _dt.time(23, 30) or local < _dt.time(7, 30)):
            self.hits += 1
        if "C09" in rules and m.kind == "text" and len(m.text or "") > 200:
            self.hits += 1
        if "B05" in rules and m.kind == "redpacket":
            self.hits += 1
        if "C10" in rules and m.sender_platform_id:
            recent = ChatMessage.objects.filter(
                group_id=m.group_id, sender_platform_id=m.sender_platform_id,
                sent_at__gt=m.sent_at - _dt.timedelta(seconds=60), sent_at__lte=m.sent_at,
            ).count()  # fmt: skip
            self.hits += recent > 5
        if m.kind in ("text", "link"):
            found = self.matches(m) if not m.recalled or "C06" in rules else set()
            if m.recalled:
                found &= {"C06"}
            self.hits += len(found - {"C06"})
            if "C06" in found:
                self.hits += 1
                earlier = ChatMessage.objects.filter(
                    group_id=m.group_id, sender_platform_id=m.sender_platform_id, sent_at__lt=m.sent_at,
                    kind__in=("text", "link"),
                )  # fmt: skip
                mine = self.normalise((m.text or "") + (m.link_title or ""))
                sum(1 for e in earlier if self.normalise((e.text or "") + (e.link_title or "")) == mine)
        if m.kind == "text" and not m.recalled and m.employee_id and ("R01" in rules or "R03" in rules):
            self.responsiveness(m)

    def responsiveness(self, m) -> None:
        """R01 and R03 as the rules read, one message at a time: is the sender a leader of the group;
        is the message a directive (an @ or a directive phrase) or a notice (an acknowledgement
        request); then, for each member it addresses, one query for their answer by the deadline."""
        from django.db.models import Q

        from groups.models import ChatGroup, ChatMessage, Membership
        from violations.detection.responsiveness import is_exact_phrase
        from violations.models import GroupLeader

        ds = self.directives
        group = ChatGroup.objects.select_related("department").get(pk=m.group_id)
        leaders = set(GroupLeader.objects.filter(Q(group_id=m.group_id) | Q(group__isnull=True)).values_list(
            "employee_id", flat=True))  # fmt: skip
        if ds.owner_is_leader and group.owner_id:
            leaders.add(group.owner_id)
        if ds.department_head_is_leader and group.department and group.department.head_id:
            leaders.add(group.department.head_id)
        if m.employee_id not in leaders:
            return
        text = m.text or ""

        def has(phrases, body):
            return any((body.strip().upper() == p.upper()) if is_exact_phrase(p) else (p in body) for p in phrases)

        directive = "R01" in self.rules and (m.mentions_all or bool(m.mentions) or has(ds.directive_phrases, text))
        notice = "R03" in self.rules and has(ds.ack_request_phrases, text)
        if not (directive or notice):
            return
        members = Membership.objects.filter(group_id=m.group_id).select_related("employee")
        for member in members:
            if (member.joined_at and member.joined_at > m.sent_at) or (member.left_at and member.left_at <= m.sent_at):
                continue
            if member.employee_id == m.employee_id:
                continue
            mentioned = member.nickname in (m.mentions or []) or (
                member.platform_id and member.platform_id in m.mentions
            )
            broadcast = (m.mentions_all or not m.mentions) and member.employee_id and member.employee_id not in leaders
            for rule, deadline, in_scope in (
                ("R01", directive and self.clock.add(m.sent_at, self.limit), self._in_department(member, group)),
                ("R03", notice and self.clock.end_of_working_day(m.sent_at), True),
            ):
                if not deadline or deadline >= self.now or not (mentioned or (broadcast and in_scope)):
                    continue
                replies = ChatMessage.objects.filter(
                    Q(sender_platform_id=member.platform_id) | Q(employee_id=member.employee_id) if member.employee_id
                    else Q(sender_platform_id=member.platform_id),
                    group_id=m.group_id, sent_at__gt=m.sent_at, sent_at__lte=deadline,
                ).exclude(kind__in=("system", "recall"))  # fmt: skip
                if rule == "R03":
                    answered = any(has(ds.ack_phrases, r.text or "") for r in replies)
                else:
                    answered = replies.exists()
                self.hits += not answered

    def _in_department(self, member, group) -> bool:
        if not member.employee_id or not group.department_id:
            return False
        paths = self.paths
        return paths.get(member.employee.department_id, "\0").startswith(paths[group.department_id])


def child_matching() -> dict:
    """(4) the lexicon scan two ways over the same month: every message through the automaton in
    Python, and PostgreSQL's regex prefilter (its own normal form) with the automaton on its rows."""
    from violations.detection import keywords

    out = {}
    matcher = keywords.load_matcher(keywords.LEXICON_RULES)
    for name, scan in (("postgresql_prefilter", keywords._prefiltered), ("aho_corasick_stream", keywords._streamed)):
        reset_peak()
        started = time.perf_counter()
        rows = scan(matcher, window())
        out[name] = {"seconds": time.perf_counter() - started, "messages": len(rows or []), "peak_mib": peak_mib()}
    return out


def run_child(db: str, what: str, *extra: str, redis_url: str = "") -> dict:
    env = {**os.environ, "BENCH_DETECT_DB": db}
    if redis_url:  # a build in this process set up Django without it (bench/data.py pops it)
        env["REDIS_URL"] = redis_url
    command = [sys.executable, __file__, "--child", what, *extra]
    out = subprocess.run(command, env=env, stdout=subprocess.PIPE, text=True)  # its stderr: progress, errors
    if out.returncode:
        raise SystemExit(f"child {what} failed (its stderr is above)")
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- report ----------------------------------------------------------------------------------------------


def report(params: dict, detect: dict, baseline: dict, matching: dict) -> None:
    load = os.getloadavg()
    print(f"\nmessages: {params['messages']:,} (scale {params['scale']}); machine load average "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} CPUs (shared)")  # fmt: skip
    print(f"{'detector':<16} {'rules':<28} {'hits':>9} {'seconds':>9} {'peak MiB':>9}")
    for d in detect["detectors"]:
        print(f"{d['name']:<16} {','.join(d['rules']):<28} {d['hits']:>9,} {d['seconds']:>9.2f} {d['peak_mib']:>9.1f}")
    run = detect["run"]
    total = sum(d["seconds"] for d in detect["detectors"])
    print(f"{'sum of detectors':<45} {total:>19.2f}")
    print(f"whole run: {run['seconds']:.2f} s, peak RSS {run['peak_mib']:.1f} MiB — {run['how']}; "
          f"{run.get('new', 0):,} detections, {run.get('suspected', 0):,} suspected; "
          f"{run.get('status')} {run.get('errors')}")  # fmt: skip
    note = (f"extrapolated from {baseline['sample']:,} of {baseline['total']:,} messages "
            f"({baseline['sample_seconds']:.1f} s)") if baseline["extrapolated"] else "all messages"  # fmt: skip
    print(f"baseline per-message loop (rules {','.join(baseline['rules'])}): {baseline['seconds']:.1f} s, {note}; "
          f"peak RSS {baseline['peak_mib']:.1f} MiB")  # fmt: skip
    print(f"ratio: loop / sum of detectors = {baseline['seconds'] / total:.1f}×")
    print(
        f"ratio: loop / whole run = {baseline['seconds'] / run['seconds']:.1f}× (target ≥ 20×); "
        f"whole run {'<' if run['seconds'] < 60 else '≥'} 60 s; peak {run['peak_mib']:.0f} MiB (target < 300)"
    )
    print("keyword matching over the month (same messages):")
    for name, m in matching.items():
        print(f"  {name:<22} {m['seconds']:8.2f} s  {m['messages']:>9,} messages matched  peak {m['peak_mib']:.0f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 10,000 groups, 5,000,000 messages")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--child")
    parser.add_argument("--sample", type=int, default=0)
    parser.add_argument("--no-whole-run", action="store_true", help="time the detectors only, not the runner storing")
    parser.add_argument("--workers", type=int, default=0, help="also the whole run split over this many processes")
    parser.add_argument("--celery", type=int, default=0,
                        help="also the whole run as the nightly task fans it out, over this many Celery workers "
                             "(needs REDIS_URL)")  # fmt: skip
    parser.add_argument("--only-celery", action="store_true",
                        help="only the whole run, in one process and over the --celery workers")  # fmt: skip
    parser.add_argument("--part", type=int, default=0)
    parser.add_argument("--parts", type=int, default=1)
    args = parser.parse_args()
    redis_url = os.environ.get("REDIS_URL", "")
    if (args.celery or args.only_celery) and not redis_url:
        raise SystemExit("--celery needs REDIS_URL (the workers' broker)")
    if args.child == "celery":
        db = os.environ["BENCH_DETECT_DB"]
        data.setup_django(db, redis_url=redis_url)
        print(json.dumps(celery_fanout(db, args.celery, redis_url), default=str))
        return
    if args.child:
        data.setup_django(os.environ["BENCH_DETECT_DB"])
        from django.conf import settings

        # DEBUG (the settings' default) keeps the last 9,000 queries' SQL with their parameters: the
        # runner's multi-row inserts of excerpts made that gigabytes. Production runs with DEBUG off.
        settings.DEBUG = False
        fn = {
            "detect": child_detectors,
            "detect_only": lambda: child_detectors(False),
            "run": child_run,
            "matching": child_matching,
            "part": lambda: child_part(args.part, args.parts),
        }.get(args.child)
        result = fn() if fn else child_baseline(args.sample)
        print(json.dumps(result, ensure_ascii=False, default=str))
        return
    db = bench_db(args.scale)
    params = built_params(db)
    if args.rebuild or params is None or params.get("scale") != args.scale or params.get("shape") != SHAPE:
        print(f"{db}: building at scale {args.scale}", flush=True)
        build(db, args.scale)
        params = built_params(db)
    else:
        print(f"{db}: reusing the data built at scale {args.scale} (migrated to the current schema)")
        env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
        env["DATABASE_URL"] = f"{data.admin_url()}/{db}"
        subprocess.run([sys.executable, str(ROOT / "manage.py"), "migrate", "-v0"], env=env, check=True)
    assert params is not None
    if args.only_celery:
        single = run_child(db, "run")
        fanout = run_child(db, "celery", "--celery", str(args.celery or 2), redis_url=redis_url)
        print(f"whole run in one process: {single['seconds']:.2f} s, {single['new']:,} detections; over "
              f"{fanout['workers']} Celery workers: {fanout['seconds']:.2f} s "
              f"({single['seconds'] / fanout['seconds']:.2f}×), {fanout['new']:,} detections, chunks per worker "
              f"{fanout['chunks_per_worker']}")  # fmt: skip
        print("JSON " + json.dumps({"params": params, "run": single, "celery": fanout}, default=str))
        return
    sample = max(2000, int(SAMPLE_MESSAGES * min(1.0, args.scale * 10)))
    detect = run_child(db, "detect_only" if args.no_whole_run else "detect")
    baseline = run_child(db, "baseline", "--sample", str(sample))
    matching = run_child(db, "matching")
    report(params, detect, baseline, matching)
    if args.workers > 1:
        split = parallel(db, args.workers)
        one = detect["run"]["seconds"]
        print(f"whole run over {args.workers} processes at once: {split['seconds']:.2f} s wall "
              f"({one / split['seconds']:.2f}× the single process's {one:.2f} s), {split['new']:,} detections, "
              f"peak {split['peak_mib']:.0f} MiB per process; parts: "
              + ", ".join(f"{p['groups']} groups {p['seconds']:.1f} s" for p in split["parts"]))  # fmt: skip
    fanout = None
    if args.celery:
        fanout = run_child(db, "celery", "--celery", str(args.celery), redis_url=redis_url)
        one = detect["run"]["seconds"]
        print(f"whole run as the nightly task fans it out over {args.celery} Celery workers: "
              f"{fanout['seconds']:.2f} s wall ({one / fanout['seconds']:.2f}× the single process's {one:.2f} s), "
              f"{fanout['chunks']} chunks (per worker {fanout['chunks_per_worker']}), {fanout['new']:,} detections, "
              f"{fanout['status']}")  # fmt: skip
    print("JSON " + json.dumps({"params": params, "detect": detect, "baseline": baseline, "matching": matching,
                                "parallel": split if args.workers > 1 else None, "celery": fanout},
                               default=str))  # fmt: skip


if __name__ == "__main__":
    main()
