"""Chat evidence, input half: three real chat-export formats read into one message store.

``readers/`` turns a WeCom 会话内容存档 (decrypted JSON Lines), a WeChatMsg/留痕 CSV or a QQ 消息管理器
TXT export into a stream of ``records.ChatRecord`` (generators: a file is never held whole);
``store.py`` previews a file (chat, date range, counts, matched / unmatched senders), spooling what it
read (``spool.py``: the file is parsed once), and writes it in one transaction from the spool (COPY,
or ``INSERT … ON CONFLICT DO NOTHING`` on each platform's natural key when stored messages overlap),
so that a re-imported or overlapping export adds nothing twice; ``jobs.py`` runs large uploads in
Celery tasks with progress and takes up a killed worker's job again; ``retention.py`` purges message bodies after
the HR-set retention. The models are ``groups.chat.models`` (re-exported by ``groups.models``).
Formats: docs/chat-formats.md.
"""
