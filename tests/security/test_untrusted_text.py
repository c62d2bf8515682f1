"""Untrusted text (prompts, model output, guidelines) never becomes live HTML."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from app.markdown import render_markdown


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))


def tags_of(html: str) -> list[tuple[str, dict[str, str | None]]]:
    collector = TagCollector()
    collector.feed(html)
    return collector.tags


PAYLOADS = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[click](javascript:alert(1))",
    "</textarea><script>alert(2)</script>",
    "{{7*7}} {% raw %}",
    "![tracker](https://evil.example/pixel.png)",
    '<a href="https://ok.example" onclick="alert(1)">x</a>',
    "<iframe src='https://evil.example'></iframe>",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_markdown_output_has_no_active_content(payload: str) -> None:
    html = str(render_markdown(payload))
    for tag, attrs in tags_of(html):
        assert tag not in {"script", "img", "iframe", "object", "embed", "style"}, html
        assert not [a for a in attrs if a.startswith("on")], html
        assert not (attrs.get("href") or "").lower().startswith("javascript:"), html
    assert "49" not in html  # Jinja-looking text is not evaluated


def test_markdown_keeps_ordinary_formatting() -> None:
    html = str(render_markdown("**bold** and `code`\n\n- item\n\n[site](https://example.org)"))
    assert (
        "<strong>bold</strong>" in html and "<code>code</code>" in html and "<li>item</li>" in html
    )
    assert 'href="https://example.org"' in html and "noopener" in html


def test_raw_html_is_shown_as_text() -> None:
    html = str(render_markdown("<b>hi</b>"))
    assert "&lt;b&gt;hi&lt;/b&gt;" in html


@pytest.mark.parametrize(
    "link",
    [
        "//evil.example/phish",
        "/\\evil.example/phish",
        "https:/evil.example",
        "/admin/annotators",
        "javascript:alert(1)",
        "JaVaScRiPt:alert(1)",
        "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
        "mailto:someone@example.org",
        "<//evil.example>",
    ],
)
def test_only_absolute_http_links_become_links(link: str) -> None:
    for text in (f"[click]({link})", f"[click][r]\n\n[r]: {link}", f"<{link}>", link):
        html = str(render_markdown(text))
        assert [t for t, _ in tags_of(html) if t == "a"] == [], (text, html)
        assert "click" in html or link.strip("<>")[:6] in html  # shown as text, not dropped


def test_absolute_http_links_stay_links() -> None:
    for url in ("http://example.org", "https://example.org/a?b=c#d", "HTTPS://EXAMPLE.ORG/x"):
        hrefs = [a.get("href") for t, a in tags_of(str(render_markdown(f"[x]({url})"))) if t == "a"]
        assert len(hrefs) == 1 and hrefs[0].lower().startswith("http"), (url, hrefs)
