"""HTML → plain text, for feed fields and for article pages (selectolax/lexbor, pure functions).

Paragraph structure survives as blank lines because the matcher's NEAR/n and the alert summary both
read better when a heading does not run into the first sentence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from selectolax.lexbor import LexborHTMLParser, LexborNode

from service.feeds.charset import charset_from_content_type, decode_bytes, html_declared_encoding

_DROPPED = ["script", "style", "noscript", "template", "iframe", "object", "embed", "svg", "canvas", "head"]
_BLOCKS = (
    "p, div, section, article, main, header, footer, aside, nav, blockquote, pre, ul, ol, li, dl, dt, dd, "
    "table, tr, h1, h2, h3, h4, h5, h6, figure, figcaption, hr, address, details, summary"
)
_PARA = "\u2029"  # paragraph separator: a marker no feed text is expected to rely on
_LINE = "\u2028"
_CHROME_TAGS = ["nav", "header", "footer", "aside", "form", "button", "select", "menu", "dialog"]
_CHROME_WORDS = re.compile(
    r"(?:^|[\s_-])(?:nav|navbar|menu|sidebar|side-bar|widget|footer|header|masthead|breadcrumbs?|"
    r"related|see-also|more-stories|read-more|recommended|share|sharing|social|comments?|"
    r"advert\w*|ads?|promo|sponsored|newsletter|subscribe|cookie\w*|popup|modal|tags?|"
    r"pagination|pager|author-box|byline-share)(?:$|[\s_-])",
    re.IGNORECASE,
)
_ARTICLE_SELECTORS = ("[itemprop=articleBody]", "article", "[role=main]", "main")
_MIN_PARAGRAPH = 25


def html_to_text(html: str) -> str:
    """Visible text of an HTML fragment or page.

    Scripts, styles and other non-text elements are dropped; block elements become paragraphs
    separated by one blank line, `<br>` a line break; entities are unescaped; runs of whitespace
    (including non-breaking spaces) collapse to one space. Text without markup takes a fast path.
    """
    if "<" not in html and "&" not in html:
        return _collapse(html)
    tree = LexborHTMLParser(html)
    tree.strip_tags(_DROPPED)
    root = tree.body or tree.root
    return _node_text(root) if root is not None else ""


def extract_article(html: str) -> str:
    """The main text of an article page, without navigation, sidebars, comments or footers.

    Uses trafilatura when it is installed; otherwise (or when it finds nothing) a heuristic:
    drop chrome elements (nav/header/footer/aside/form and elements whose class or id says
    menu, sidebar, related, share, comments, ads, ...), then take the explicit article container
    (`itemprop=articleBody`, `<article>`, `main`) holding the most paragraph text, or failing that
    the element whose direct `<p>` children carry the most text. Link-heavy paragraphs are dropped.
    """
    extracted = _extract_with_trafilatura(html)
    if extracted:
        return extracted
    return extract_article_heuristic(html)


def extract_article_heuristic(html: str) -> str:
    """The selectolax-only extractor described in `extract_article`."""
    tree = LexborHTMLParser(html)
    tree.strip_tags(_DROPPED)
    _remove_chrome(tree)
    body = tree.body
    if body is None:
        return ""
    best = _best_container(body)
    paragraphs = [text for text in _paragraphs(best) if text]
    return "\n\n".join(paragraphs) if paragraphs else _node_text(best)


def decode_html(body: bytes, content_type: str | None = None) -> str:
    """Text of an HTML page's bytes: HTTP charset, then `<meta charset>`, then UTF-8, then repair."""
    declared = (charset_from_content_type(content_type), html_declared_encoding(body))
    return decode_bytes(body, declared)[0]


def _extract_with_trafilatura(html: str) -> str | None:
    try:
        import trafilatura  # optional: only when the deployment installed it
    except ImportError:
        return None
    result = trafilatura.extract(html, include_comments=False, include_tables=False, favor_precision=True)
    return result if isinstance(result, str) else None


def _node_text(node: LexborNode) -> str:
    for block in node.css(_BLOCKS):
        block.insert_before(_PARA)
        block.insert_after(_PARA)
    for br in node.css("br"):
        br.insert_after(_LINE)
    raw = node.text(deep=True, separator="")
    return "\n\n".join(filter(None, (_collapse_lines(part) for part in raw.split(_PARA))))


def _collapse_lines(paragraph: str) -> str:
    return "\n".join(filter(None, (_collapse(line) for line in paragraph.split(_LINE))))


def _collapse(text: str) -> str:
    return " ".join(text.split())


def _remove_chrome(tree: LexborHTMLParser) -> None:
    tree.strip_tags(_CHROME_TAGS)
    body = tree.body
    if body is None:
        return
    # A layout wrapper such as class="has-sidebar" may hold the article itself: never remove an
    # element that carries most of the page's paragraph text.
    limit = _paragraph_weight(body) / 2
    marked: set[int] = set()
    doomed = []
    for node in body.css("[class], [id]"):
        if _inside(node, marked) or node.tag in ("article", "main") or not _looks_like_chrome(node):
            continue
        if _paragraph_weight(node) <= limit:
            marked.add(node.mem_id)
            doomed.append(node)
    for node in doomed:  # none is inside another, so no node is touched after its parent is freed
        node.decompose()


def _looks_like_chrome(node: LexborNode) -> bool:
    marks = f"{node.attributes.get('class') or ''} {node.attributes.get('id') or ''}"
    return bool(_CHROME_WORDS.search(marks)) and not node.css_matches("[itemprop=articleBody]")


def _inside(node: LexborNode, marked: set[int]) -> bool:
    parent = node.parent
    while parent is not None:
        if parent.mem_id in marked:
            return True
        parent = parent.parent
    return False


def _best_container(body: LexborNode) -> LexborNode:
    explicit = [node for selector in _ARTICLE_SELECTORS for node in body.css(selector)]
    if explicit:
        return max(explicit, key=_paragraph_weight)
    scores: dict[int, tuple[int, LexborNode]] = {}
    for paragraph in body.css("p"):
        parent = paragraph.parent
        if parent is None:
            continue
        weight, _ = scores.get(parent.mem_id, (0, parent))
        scores[parent.mem_id] = (weight + _text_weight(paragraph), parent)
    if not scores:
        return body
    return max(scores.values(), key=lambda pair: pair[0])[1]


def _paragraph_weight(node: LexborNode) -> int:
    return sum(_text_weight(paragraph) for paragraph in node.css("p"))


def _text_weight(node: LexborNode) -> int:
    length = len(node.text(deep=True).strip())
    return length if length >= _MIN_PARAGRAPH else 0


def _paragraphs(container: LexborNode) -> Iterable[str]:
    blocks = container.css("p, h1, h2, h3, h4, h5, h6, li, blockquote, pre")
    for block in blocks:
        if block.parent is not None and block.parent.tag in ("li", "blockquote") and block.tag == "p":
            continue  # the enclosing item already yields this text
        if _link_density(block) > 0.5:
            continue
        yield _collapse(block.text(deep=True))


def _link_density(node: LexborNode) -> float:
    total = len(node.text(deep=True).strip())
    if total == 0:
        return 1.0
    linked = sum(len(link.text(deep=True).strip()) for link in node.css("a"))
    return linked / total
