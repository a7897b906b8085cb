"""Chat evidence, input half: three real chat-export formats read into one message store.

``readers/`` turns a WeCom 会话内容存档 (decrypted JSON Lines), a WeChatMsg/留痕 CSV or a QQ 消息管理器
TXT export into a stream of ``records.ChatRecord`` (generators: a file is never held whole);
``store.py`` previews a file (chat, date range, counts, matched / unmatched senders) and writes it in
one transaction with ``INSERT … ON CONFLICT DO NOTHING`` on each platform's natural key, so that a
re-imported or overlapping export adds nothing twice; ``retention.py`` purges message bodies after
the HR-set retention. The models are ``groups.chat.models`` (re-exported by ``groups.models``).
Formats: docs/chat-formats.md.
"""
