"""Markdown for untrusted text (prompts, model output, guidelines): rendered, then sanitised.

markdown-it-py renders with raw HTML disabled and makes a link only of an absolute http(s)
URL with a host — `//host`, `/\\host`, relative paths, `javascript:`, `data:` and `mailto:`
stay text — and nh3 (the Ammonia sanitiser) then keeps only a small allow-list of tags and
drops any `href` that rule would refuse, so event handlers and images that call out are gone.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

ALLOWED_TAGS = {
    "p", "br", "hr", "em", "strong", "code", "pre", "blockquote", "ul", "ol", "li",
    "h1", "h2", "h3", "h4", "h5", "h6", "a", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}


def absolute_http_url(url: str) -> bool:
    """True for `http://host/...` or `https://host/...`: the only links untrusted text may make.

    Browsers read a backslash as a slash, so `/\\host` is refused as a network path too."""
    if "\\" in url or any(ord(c) < 0x21 for c in url):
        return False
    try:
        parts = urlsplit(url)
    except ValueError:  # a bad IPv6 literal
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname)


class _Markdown(MarkdownIt):
    def validateLink(self, url: str) -> bool:  # noqa: N802 - markdown-it's hook
        return absolute_http_url(url)


_md = _Markdown("commonmark", {"html": False, "linkify": False}).enable("table")


def _attribute(tag: str, name: str, value: str) -> str | None:
    if tag == "a" and name == "href" and not absolute_http_url(value):
        return None
    return value


def render_markdown(text: str | None) -> Markup:
    html = _md.render(text or "")
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https"},
        attribute_filter=_attribute,
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(clean)  # noqa: S704 - sanitised by nh3 just above
