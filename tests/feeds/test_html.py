"""HTML → text for feed fields, and article extraction that drops site chrome."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.feeds.html import decode_html, extract_article, extract_article_heuristic, html_to_text

SEED = (Path(__file__).parents[1] / "fixtures" / "seed-article.txt").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("html", "text"),
    [
        ("plain   text\n here", "plain text here"),
        ("<p>One</p><p>Two</p>", "One\n\nTwo"),
        ("Hello &amp; <b>bye</b>", "Hello & bye"),
        ("a<br>b<br/>c", "a\nb\nc"),
        ("<script>alert(1)</script><style>p{}</style><p>kept</p>", "kept"),
        ("<div><h2>Head</h2>Body text</div>", "Head\n\nBody text"),
        ("<ul><li>one</li><li>two</li></ul>", "one\n\ntwo"),
        ("x&nbsp;&nbsp;y &#1589;&#1575;&#1585;&#1608;&#1582;", "x y صاروخ"),
        ("<p>صواريخ <em>كاتيوشا</em></p>\n\n\n<p>مطار   بغداد</p>", "صواريخ كاتيوشا\n\nمطار بغداد"),
        ("<p></p><p> </p>", ""),
        ("5 < 6 and 7 > 3", "5 < 6 and 7 > 3"),
        ("", ""),
    ],
)
def test_html_to_text(html: str, text: str) -> None:
    assert html_to_text(html) == text


def _seed_paragraphs() -> list[str]:
    lines = [line.strip() for line in SEED.splitlines() if line.strip()]
    return [line for line in lines[1:] if len(line) > 80 and not line.startswith(("مواضيع", "شاهد"))]


def _article_page() -> str:
    body = "".join(f"<p>{paragraph}</p>" for paragraph in _seed_paragraphs())
    related = "".join(
        f'<li><a href="/n/{n}">خبر ذو صلة رقم {n} عن العراق والمنطقة</a></li>' for n in range(6)
    )
    return f"""<!doctype html><html lang="ar" dir="rtl"><head><title>t</title>
<script>var analytics = "مطار أربيل";</script><style>.x{{}}</style></head>
<body class="single-post has-sidebar">
<header class="site-header"><nav><a href="/">الرئيسية</a> <a href="/iraq">أخبار العراق</a></nav></header>
<div id="page" class="site-content">
 <main id="main">
  <article class="post">
   <h1>زيارة مرفقة بهجمات… قاآني يصل بغداد</h1>
   <div class="entry-content" itemprop="articleBody">{body}
    <div class="share-buttons"><a href="#">فيسبوك</a> <a href="#">تويتر</a></div>
    <div class="related-posts"><h3>مواضيع ذات صلة</h3><ul>{related}</ul></div>
   </div>
  </article>
  <section id="comments" class="comments-area"><p>تعليق طويل من قارئ يتحدث عن أربيل والسفر إليها كثيرا</p></section>
 </main>
 <aside class="widget-area"><p>الأكثر قراءة: خبر عن أربيل وعن الطقس في الشمال هذا الأسبوع</p></aside>
</div>
<footer class="site-footer"><p>جميع الحقوق محفوظة © 2021 زر الذهاب إلى الأعلى</p></footer>
</body></html>"""


def test_extract_article_keeps_the_story_and_drops_chrome() -> None:
    text = extract_article_heuristic(_article_page())
    for paragraph in _seed_paragraphs():
        assert paragraph in text
    for chrome in (
        "الرئيسية",
        "فيسبوك",
        "مواضيع ذات صلة",
        "خبر ذو صلة",
        "تعليق طويل",
        "الأكثر قراءة",
        "الحقوق",
    ):
        assert chrome not in text
    assert "analytics" not in text


def test_extract_article_without_markup_hints_picks_the_densest_block() -> None:
    story = "".join(f"<p>{paragraph}</p>" for paragraph in _seed_paragraphs())
    page = (
        "<html><body><div><a href='/'>Home</a> | <a href='/a'>About</a></div>"
        f"<div>{story}</div><div><p>Short footer line here.</p></div></body></html>"
    )
    text = extract_article_heuristic(page)
    assert _seed_paragraphs()[0] in text
    assert "Home" not in text
    assert "footer" not in text


def test_extract_article_public_entry_point_returns_the_story() -> None:
    assert _seed_paragraphs()[0] in extract_article(_article_page())


def test_decode_html_uses_header_then_meta_then_repair() -> None:
    page = "<html><head><meta charset='windows-1256'></head><body><p>مطار بغداد</p></body></html>"
    assert "مطار بغداد" in decode_html(page.encode("cp1256"))
    assert "مطار بغداد" in decode_html(page.encode("cp1256"), "text/html; charset=windows-1256")
    assert "مطار بغداد" in decode_html(page.replace("windows-1256", "utf-8").encode("utf-8"), "text/html")
