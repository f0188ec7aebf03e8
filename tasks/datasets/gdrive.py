"""Google Drive links: the direct-download URL of a shared file, and the virus-scan confirmation step.

Drive answers ``drive.google.com/uc?export=download&id=<id>`` for a file it cannot virus-scan (over
about 100 MB) with a 200 HTML page, "Google Drive can't scan this file for viruses", instead of the
file. That page holds a form (``action="https://drive.usercontent.google.com/download"``, method GET,
hidden inputs ``id``, ``export``, ``confirm``, ``uuid``); submitting it returns the file.

:func:`direct_url` rewrites a share link (``uc?id=``, ``open?id=``, ``file/d/<id>/view``) to
``drive.usercontent.google.com/download?id=<id>&export=download&confirm=t``, which usually returns
the file at once; where a warning page still comes, :func:`confirm_url` reads the URL its form (or,
on older pages, its "Download anyway" link) leads to.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

USERCONTENT = "https://drive.usercontent.google.com/download"
GOOGLE_HOSTS = frozenset({"drive.google.com", "docs.google.com", "drive.usercontent.google.com"})
_ID_PATHS = ("/uc", "/open", "/download")
_FILE_PATH = re.compile(r"/file/d/([A-Za-z0-9_-]+)")


def file_id(url: str) -> str | None:
    """The Drive file id of a share or download link, or None when ``url`` is no Google Drive file link."""
    parts = urlsplit(url)
    if parts.hostname not in GOOGLE_HOSTS:
        return None
    m = _FILE_PATH.search(parts.path)
    if m:
        return m.group(1)
    ids = parse_qs(parts.query).get("id")
    return ids[0] if ids and parts.path.rstrip("/") in _ID_PATHS else None


def direct_url(url: str) -> str:
    """The usercontent download URL (with ``confirm=t``) for a Drive file link; any other URL unchanged."""
    fid = file_id(url)
    if fid is None:
        return url
    return f"{USERCONTENT}?{urlencode({'id': fid, 'export': 'download', 'confirm': 't'})}"


class _Forms(HTMLParser):
    """Collects every form (action, method, named inputs) and the href of a ``uc-download-link`` anchor."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict] = []
        self.link: str | None = None
        self._open = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append(
                {
                    "action": a.get("action", ""),
                    "method": a.get("method", "get").lower(),
                    "id": a.get("id", ""),
                    "inputs": {},
                }
            )
            self._open = True
        elif tag == "input" and self._open and a.get("name") and a.get("type", "text").lower() != "submit":
            self.forms[-1]["inputs"][a["name"]] = a.get("value", "")
        elif tag == "a" and a.get("id") == "uc-download-link" and a.get("href"):
            self.link = a["href"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._open = False


def _allowed(target: str, page_url: str) -> bool:
    # the page is untrusted input: follow it only to its own host or to Google Drive itself
    t, p = urlsplit(target), urlsplit(page_url)
    return t.scheme in ("http", "https") and (t.netloc == p.netloc or t.hostname in GOOGLE_HOSTS)


def confirm_url(page: bytes, page_url: str) -> str | None:
    """Where a Drive virus-scan warning ``page`` (served at ``page_url``) leads; None for any other page."""
    parser = _Forms()
    parser.feed(page.decode("utf-8", "replace"))
    parser.close()
    for form in parser.forms:
        inputs = form["inputs"]
        if form["method"] != "get" or "id" not in inputs or not ("confirm" in inputs or form["id"] == "download-form"):
            continue
        action = urljoin(page_url, form["action"] or page_url).split("?", 1)[0]
        target = f"{action}?{urlencode(inputs)}"
        if _allowed(target, page_url):
            return target
    if parser.link is not None and "confirm=" in parser.link:
        target = urljoin(page_url, parser.link)
        if _allowed(target, page_url):
            return target
    return None
