"""Normalising chat text and links for matching (keywords, repeated advertisements).

No word segmentation: Chinese is matched as character sequences after one normal form, the same for
a lexicon entry and for a message:

1. Unicode NFKC: full-width letters, digits and punctuation become half-width (``ＶＸ１２３`` → ``VX123``),
   compatibility forms (circled digits, ``㈠``) their plain characters;
2. lower-cased (``WeChat`` → ``wechat``; as PostgreSQL's ``lower`` does, so its prefilter agrees);
3. every character that is not a letter, digit or CJK character removed: spaces, punctuation,
   symbols, emoji and zero-width characters that posters insert between characters to dodge a
   filter (``加 微 信``, ``加.微.信``, ``加❤微❤信``) — so ``加 微 信`` matches the entry ``加微信`` —
   and the Hangul fillers, letters that render blank (``客\u3164户``).

Step 3 also joins words across a removed space ("代 理解" contains "代理"); entries are therefore
kept to phrases of two or more characters (see ``LexiconEntry.clean``).

Links: scheme and host lower-cased, ``www.`` and default ports dropped, tracking parameters
(``utm_*``, ``spm``, ``from``, ``share*``, ``fbclid`` …) and the fragment removed, the remaining
parameters sorted; the result identifies "the same link" for repeated advertisements.
"""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from groups.chat.records import urls_in_text

# Not letters, digits or CJK: removed. Also the Hangul fillers, letters by Unicode's classes that
# render blank (U+3164 and its half-width form, U+115F/U+1160, which NFKC makes of them): the
# "invisible character" posters put between the characters of a word.
_SEPARATORS = re.compile(r"[\W_\u115f\u1160\u3164\uffa0\u30fc]+")  # and ー, a dash that is a letter
TRACKING_PARAMS = frozenset(
    {"spm", "from", "isappinstalled", "scene", "clicktime", "enterid", "fbclid", "gclid", "ref", "source"}
)
TRACKING_PREFIXES = ("utm_", "share", "wxshare", "mc_")


def normalise(text: str | None) -> str:
    """The match form of ``text``: NFKC, case-folded, separators removed (module docstring)."""
    if not text:
        return ""
    # lower(), not casefold(): PostgreSQL's prefilter lower-cases too, so both paths agree ("ß")
    return _SEPARATORS.sub("", unicodedata.normalize("NFKC", text).lower())


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(TRACKING_PREFIXES)


def normalise_url(url: str | None) -> str:
    """The identity of a link: lower-case scheme and host, no www./default port/fragment/tracking."""
    if not url:
        return ""
    url = unicodedata.normalize("NFKC", url.strip())
    if not re.match(r"^[a-z][a-z0-9+.-]*://", url, re.IGNORECASE):
        url = "http://" + url
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url.lower()
    host = host.rstrip(".").removeprefix("www.")  # "u.tb.cn." (a fully qualified name) is u.tb.cn
    scheme = parts.scheme.lower()
    if scheme == "https":
        scheme = "http"  # the same page over either scheme is the same advertisement
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    query = sorted((k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k))
    path = parts.path.rstrip("/") or ""
    return urlunsplit((scheme, netloc, path, urlencode(query), ""))


def url_host(url: str | None) -> str:
    """The lower-case host of a URL (``www.`` dropped), "" when there is none."""
    normal = normalise_url(url)
    if not normal:
        return ""
    try:
        return (urlsplit(normal).hostname or "").lower()
    except ValueError:
        return ""


def urls_in(text: str | None) -> list[str]:
    """The URLs written out in a message's text (where each ends: ``groups.chat.records.urls_in_text``,
    the readers' rule), read after NFKC, so that one written in full-width letters and dots
    (``ｈｔｔｐｓ：／／ｕ．ｔｂ．ｃｎ``, a way round a filter) is the same URL."""
    if text and not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    return urls_in_text(text)


_BARE_HOST = re.compile(r"(?<![A-Za-z0-9.@_-])((?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})(?![A-Za-z0-9-])")


def bare_hosts(text: str | None) -> list[str]:
    """Host names written without ``http(s)://`` or ``www.`` ("领券 u.tb.cn/abc"), lower case, read
    after NFKC: a domain entry matches them too (an e-mail address's domain is none)."""
    if not text or "." not in unicodedata.normalize("NFKC", text):
        return []
    return [m.group(1).lower() for m in _BARE_HOST.finditer(unicodedata.normalize("NFKC", text))]


def normalise_domain(value: str) -> str:
    """A lexicon domain entry's form: the host only, lower case, no scheme, path or ``www.``."""
    value = value.strip()
    if not value:
        return ""
    return url_host(value if "://" in value else "http://" + value)


def host_matches(host: str, domain: str) -> bool:
    """``host`` is ``domain`` or one of its subdomains."""
    return bool(host) and (host == domain or host.endswith("." + domain))
