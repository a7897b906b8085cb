"""The browser of scripts/prodlike_scenario.py: an HTTP session behind the TLS proxy, and HTML forms.

``Browser`` talks to PRODLIKE_BASE_URL as a browser behind the TLS-terminating proxy would: every
request carries X-Forwarded-Proto: https, so the app's secure cookies, HSTS and CSRF origin checks
are the production ones. ``forms(html)`` returns every <form> of a page with its action, method and
the values a browser would submit unchanged (text inputs, checked boxes and radios, selected
options, textareas); a scenario step overrides the fields it fills in, like a person at the keyboard.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from html import unescape
from html.parser import HTMLParser
from typing import Any, TypeVar
from urllib.parse import urljoin, urlsplit

import requests

BASE = os.environ["PRODLIKE_BASE_URL"]
ORIGIN = "https://" + BASE.split("://", 1)[1]
PROXY_HEADERS = {"X-Forwarded-Proto": "https"}
SKIPPED_INPUTS = {"submit", "button", "file", "image", "reset"}
T = TypeVar("T")


def check(condition: bool, message: str) -> None:
    if not condition:
        print(f"FAIL: {message}", file=sys.stderr)
        sys.exit(1)
    print(f"ok   {message}")


def poll(probe: Callable[[], T | None], *, what: str, timeout: float = 60, every: float = 0.5) -> T:
    """Call ``probe`` until it returns something truthy; fail the scenario after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            check(False, f"{what} within {timeout:.0f} s")
        time.sleep(every)


class Browser(requests.Session):
    """A session behind the TLS-terminating proxy: the proxy speaks HTTPS to the browser, so the
    browser sends its Secure cookies; on this plain-HTTP hop we send the jar's cookies ourselves,
    and follow redirects ourselves (requests would drop Secure cookies on a plain-HTTP redirect)."""

    def __init__(self) -> None:
        super().__init__()
        self.headers.update(PROXY_HEADERS)

    def request(self, method, url, **kwargs):
        follow = kwargs.pop("allow_redirects", method.upper() == "GET")
        kwargs.setdefault("timeout", 30)
        url = urljoin(BASE + "/", url)
        if method.upper() == "POST":
            kwargs["headers"] = {"Origin": ORIGIN, **kwargs.get("headers", {})}
        for _hop in range(10):
            cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in self.cookies)
            if cookies:
                kwargs["headers"] = {**kwargs.get("headers", {}), "Cookie": cookies}
            response = super().request(method, url, allow_redirects=False, **kwargs)
            if not (follow and response.is_redirect):
                return response
            location = urlsplit(urljoin(url, response.headers["Location"]))
            url = BASE + location.path + (f"?{location.query}" if location.query else "")
            method, kwargs = "GET", {"timeout": kwargs["timeout"]}
        raise RuntimeError(f"too many redirects from {url}")

    def csrf(self) -> str:
        return self.cookies.get("csrftoken") or ""

    def submit(
        self, page_url: str, field_name: str, *, files: Any = None, follow: bool = True, **overrides
    ) -> requests.Response:
        """Open ``page_url``, fill the form holding ``field_name`` with ``overrides`` and submit it."""
        page = self.get(page_url)
        check(page.status_code == 200, f"GET {page_url} 200 ({page.status_code})")
        form = form_with(page.text, field_name)
        action = urljoin(page.url, form.action) if form.action else page.url
        return self.post(action, data=form.data(**overrides), files=files, allow_redirects=follow)

    def autocomplete(self, app_label: str, model_name: str, field_name: str, term: str) -> str:
        """The id of the one object the admin's autocomplete offers for ``term`` (as the widget does)."""
        params = {"app_label": app_label, "model_name": model_name, "field_name": field_name, "term": term}
        response = self.get("/admin/autocomplete/", params=params)
        results = response.json()["results"] if response.status_code == 200 else []
        check(len(results) == 1, f"autocomplete {model_name}.{field_name} {term!r}: one match ({results})")
        return results[0]["id"]


@dataclass
class Form:
    """One form: where it posts, its default values (name -> list of values) and its select options."""

    action: str
    method: str
    values: dict[str, list[str]] = field(default_factory=dict)
    options: dict[str, list[tuple[str, str]]] = field(default_factory=dict)  # select name -> (value, label)

    def option(self, name: str, label_starts: str) -> str:
        """The value of the option of select ``name`` whose label starts with ``label_starts``."""
        found = [value for value, label in self.options.get(name, []) if label.strip().startswith(label_starts)]
        if len(found) != 1:
            raise LookupError(f"select {name!r}: {len(found)} option(s) labelled {label_starts!r}")
        return found[0]

    def data(self, **overrides: str | list[str]) -> list[tuple[str, str]]:
        """The pairs to submit: the defaults, with ``overrides`` replacing whole fields."""
        merged = {**self.values, **{k: v if isinstance(v, list) else [v] for k, v in overrides.items()}}
        return [(name, value) for name, values in merged.items() for value in values]


class _FormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._select: str | None = None
        self._option: tuple[str | None, bool] | None = None  # value attribute, selected
        self._option_text: list[str] = []
        self._textarea: str | None = None
        self._textarea_text: list[str] = []

    @property
    def form(self) -> Form | None:
        return self.forms[-1] if self.forms else None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self.forms.append(Form(attr.get("action", ""), attr.get("method", "get").lower()))
        elif self.form is None:
            return
        elif tag == "input":
            self._input(attr)
        elif tag == "select" and attr.get("name"):
            self._select = attr["name"]
            self.form.options.setdefault(self._select, [])
            self.form.values.setdefault(self._select, [])
        elif tag == "option" and self._select:
            self._option, self._option_text = (attr.get("value"), "selected" in attr), []
        elif tag == "textarea" and attr.get("name"):
            self._textarea, self._textarea_text = attr["name"], []

    def _input(self, attr: dict[str, str]) -> None:
        kind, name = attr.get("type", "text").lower(), attr.get("name")
        if not name or kind in SKIPPED_INPUTS:
            return
        if kind in ("checkbox", "radio") and "checked" not in attr:
            self.form.values.setdefault(name, [])
            return
        self.form.values.setdefault(name, []).append(attr.get("value", "on" if kind == "checkbox" else ""))

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option_text.append(data)
        elif self._textarea is not None:
            self._textarea_text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "option" and self._option is not None:
            label = "".join(self._option_text).strip()
            value = self._option[0] if self._option[0] is not None else label
            self.form.options[self._select].append((value, label))
            if self._option[1]:
                self.form.values[self._select].append(value)
            self._option = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea is not None:
            self.form.values[self._textarea] = [unescape("".join(self._textarea_text)).removeprefix("\n")]
            self._textarea = None


def forms(html: str) -> list[Form]:
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


def form_with(html: str, field_name: str) -> Form:
    """The page's form that has a field ``field_name`` (the admin pages carry several forms)."""
    found = [form for form in forms(html) if field_name in form.values]
    if not found:
        raise LookupError(f"no form with a field {field_name!r} on the page")
    return found[0]
