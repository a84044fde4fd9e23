#!/usr/bin/env python3
"""Checks Kabar's feeds the way subscribers' clients read them.

Helper of scripts/check-readers.sh (run that one). Subcommands:

  feeds      --config C [--sections S]
             prints the feed paths to check, one a line (/fr/rss.xml, ...)
  feedparser --base URL --config C [--sections S] --expect OUT.json
             parses every feed with Python feedparser, checks every entry and
             writes what each item's link must be (by feed URL and guid)
  newsboat   --config C --expect OUT.json --rows DIR
             checks what newsboat stored: DIR holds per feed <n>.url (the feed
             URL), <n>.rows (`sqlite3 -json` of rss_item: guid, feedurl, url,
             title) and <n>.err (newsboat's stderr)

The rule checked: an item's link, as the client sees it, is the page in the
feed's language (the language's `page_url` in feeds.toml, with the item's
section and article id); for a translation never the Indonesian original,
which must only appear as `rel="via"` (Atom) or `dc:source` + `atom:link
rel="via"` (RSS). Titles and summaries must be non-empty and free of the
translation system's pasted share labels and English disclaimer, and of HTML.

Exit status: 0 all good, 1 a check failed, 2 could not run (missing module,
unreachable server, bad arguments). Problems print as
  FAIL <client> <feed URL> <guid>: <what> (saw ..., want ...)
and doubtful but not wrong things as WARN.
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import sys
import tomllib
import unicodedata
from pathlib import Path

FORMATS = ("rss", "atom")

# Tags that the articles' HTML bodies use, or that a leak of markup would show.
# Text such as "a <item> tag" or "<5%" is news prose, not markup.
HTML_TAG = re.compile(
    r"</?(?:p|a|div|span|em|strong|b|i|u|br|hr|img|ul|ol|li|blockquote|h[1-6]|figure|"
    r"figcaption|iframe|script|style|button|table|tr|td|th|pre|code|sup|sub|small)"
    r"(?:\s[^<>]*)?/?>",
    re.IGNORECASE,
)
ANY_TAG = re.compile(r"<\s*/?\s*[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?/?\s*>")
ENTITY = re.compile(r"&(?:amp|lt|gt|quot|apos|nbsp|#[0-9]+|#x[0-9a-fA-F]+);")
# A terminal escape whose ESC was removed: "\x1b[0m" shows as "[0m".
ANSI_REMNANT = re.compile(r"\x1b|\[[0-9]{1,3}(?:;[0-9]{1,3})*m")
DISCLAIMER_WORDS = ("automatically generated",)


class Report:
    def __init__(self) -> None:
        self.fails: list[str] = []
        self.warns: list[str] = []

    def fail(self, client: str, feed: str, item: str, what: str) -> None:
        line = f"FAIL {client} {feed} {item}: {what}"
        self.fails.append(line)
        print(line, flush=True)

    def warn(self, client: str, feed: str, item: str, what: str) -> None:
        line = f"WARN {client} {feed} {item}: {what}"
        self.warns.append(line)
        print(line, flush=True)


class Site:
    """What feeds.toml says about languages, sections and boilerplate."""

    def __init__(self, path: Path) -> None:
        with open(path, "rb") as f:
            cfg = tomllib.load(f)
        self.original = cfg["site"]["original_language"]
        self.langs = {l["code"]: l for l in cfg["languages"]}
        self.sections = [s["slug"] for s in cfg["sections"]]
        # section name in a language -> slug (RSS categories carry the name only)
        self.section_by_name = {
            code: {s["names"][code]: s["slug"] for s in cfg["sections"] if code in s.get("names", {})}
            for code in self.langs
        }
        boiler = cfg.get("boilerplate", {})
        labels = set(boiler.get("strip_labels", []))
        for l in cfg["languages"]:
            labels.update(l.get("strip_labels", []))
        self.labels = sorted(labels, key=len, reverse=True)
        self.prefixes = list(boiler.get("strip_prefixes", []))
        self.items_cap = cfg.get("feeds", {}).get("items", 50)

    def page(self, lang: str, section: str, article: str) -> str:
        return self.langs[lang]["page_url"].replace("{section}", section).replace("{id}", article)

    def page_pattern(self, lang: str) -> re.Pattern:
        t = re.escape(self.langs[lang]["page_url"])
        t = t.replace(re.escape("{section}"), "(?P<section>[^/]+)").replace(re.escape("{id}"), "(?P<id>[^/?#]+)")
        return re.compile("^" + t + "$")

    def feed_paths(self, sections: str) -> list[tuple[str, str | None, str]]:
        """(lang, section or None, format) for every feed to check."""
        if sections == "all":
            wanted = self.sections
        elif sections in ("", "none"):
            wanted = []
        else:
            wanted = [s for s in sections.split(",") if s]
            unknown = [s for s in wanted if s not in self.sections]
            if unknown:
                raise SystemExit(f"check_readers: unknown section(s) {unknown}; known: {self.sections}")
        out = []
        for lang in self.langs:
            for fmt in FORMATS:
                out.append((lang, None, fmt))
        for section in wanted:
            for lang in self.langs:
                for fmt in FORMATS:
                    out.append((lang, section, fmt))
        return out


def feed_path(lang: str, section: str | None, fmt: str) -> str:
    return f"/{lang}/{section}/{fmt}.xml" if section else f"/{lang}/{fmt}.xml"


def article_id(entry) -> str | None:
    """The article id from dc:identifier (tag:...:article/<id>) or the guid (tag:...:<lang>/<id>)."""
    for value in (entry.get("dc_identifier"), entry.get("id")):
        if value:
            m = re.search(r":(?:[A-Za-z0-9-]+)/([^/:]+)$", value)
            if m:
                return m.group(1)
    return None


def text_problems(site: Site, what: str, text: str, *, is_title: bool) -> tuple[list[str], list[str]]:
    """(failures, warnings) for a title or summary as the reader shows it (plain text)."""
    fails, warns = [], []
    if not text.strip():
        return [f"{what} is empty"], []
    stripped = text.strip()
    for label in site.labels:
        if stripped.startswith(label):
            fails.append(f"{what} starts with the share label {label!r}: {shorten(text)!r}")
            break
    for label in site.labels:
        if label.endswith((":", "：")) and label in text and not stripped.startswith(label):
            fails.append(f"{what} contains the share label {label!r}: {shorten(text)!r}")
            break
    low = text.lower()
    for word in DISCLAIMER_WORDS:
        if word in low:
            fails.append(f"{what} contains the English disclaimer: …{context(text, low.index(word), 45)!r}…")
            break
    else:
        for prefix in site.prefixes:
            if prefix[:40].lower() in low:
                fails.append(f"{what} contains the pasted disclaimer {prefix[:40]!r}…")
                break
    m = HTML_TAG.search(text)
    if m:
        fails.append(f"{what} contains HTML markup {m.group(0)!r}: {shorten(text)!r}")
    if is_title:
        m = ENTITY.search(text)
        if m:
            fails.append(f"{what} shows an escaped entity {m.group(0)!r} (double escaping): {text!r}")
    bad = [c for c in text if unicodedata.category(c) == "Cc" and c not in "\t\n\r"]
    if bad:
        fails.append(f"{what} contains control characters {bad!r}")
    m = ANSI_REMNANT.search(text)
    if m and not bad:
        warns.append(f"{what} shows a terminal-escape remnant {m.group(0)!r}: …{context(text, m.start())!r}…")
    return fails, warns


def shorten(text: str, n: int = 90, tail: bool = False) -> str:
    if len(text) <= n:
        return text
    return ("…" + text[-n:]) if tail else (text[:n] + "…")


def context(text: str, at: int, width: int = 30) -> str:
    return text[max(0, at - width): at + width]


# --------------------------------------------------------------------------- feedparser


def link_problem(site: Site, lang: str, link: str | None, via: str | None) -> str | None:
    """Why `link` cannot be the page of an item in `lang`, or None.

    Independent of the article: a translation's link must not be its original
    (`via`), must not look like an Indonesian page and must lie under the
    language's home; an original's link must not lie under another language's home.
    """
    if not link:
        return "no link"
    home = site.langs[lang].get("home_url", "")
    if lang != site.original:
        if via and link == via:
            return "is the INDONESIAN original (the rel=via URL)"
        if site.page_pattern(site.original).match(link) and not site.page_pattern(lang).match(link):
            return "is an Indonesian page (matches the id page_url)"
        if home and not link.startswith(home):
            return f"is not under the {lang} home {home!r}"
    else:
        for other, l in site.langs.items():
            h = l.get("home_url", "")
            if other != lang and h and h != home and link.startswith(h):
                return f"is under the {other} home {h!r}"
    return None


def run_feedparser(args) -> int:
    try:
        import feedparser  # noqa: PLC0415
    except ImportError:
        print("check_readers: Python feedparser is missing: pip install feedparser", file=sys.stderr)
        return 2
    site = Site(Path(args.config))
    base = args.base.rstrip("/")
    rep = Report()
    client = "feedparser"
    expect: dict[str, dict] = {}
    records: list[dict] = []
    n_feeds = 0
    notes: list[str] = []
    print(f"feedparser {feedparser.__version__}: checking {base} with {args.config}")
    for lang, section, fmt in site.feed_paths(args.sections):
        url = base + feed_path(lang, section, fmt)
        d = feedparser.parse(url, agent="kabar-check-readers (feedparser)")
        status = d.get("status")
        if status is None:
            print(f"check_readers: cannot fetch {url}: {d.get('bozo_exception')}", file=sys.stderr)
            return 2
        n_feeds += 1
        if status != 200:
            rep.fail(client, url, "-", f"HTTP status {status}")
            continue
        if d.bozo:
            rep.fail(client, url, "-", f"bozo=1, not well-formed: {d.get('bozo_exception')!r}")
        want_version = "rss20" if fmt == "rss" else "atom10"
        if d.version != want_version:
            rep.fail(client, url, "-", f"detected as {d.version!r}, want {want_version!r}")
        if d.feed.get("language") != lang:
            rep.fail(client, url, "-", f"feed language {d.feed.get('language')!r}, want {lang!r}")
        if not d.entries:
            rep.fail(client, url, "-", "no entries")
        translated = lang != site.original
        items: dict[str, dict] = {}
        for e in d.entries:
            guid = e.get("id") or "(no guid)"
            art = article_id(e)
            link = e.get("link")
            links = e.get("links", [])
            alternates = [l.get("href") for l in links if l.get("rel") == "alternate"]
            vias = [l.get("href") for l in links if l.get("rel") == "via"]
            related = {l.get("hreflang"): l.get("href") for l in links if l.get("rel") == "related"}
            sec = entry_section(site, lang, fmt, e)
            if art is None:
                rep.fail(client, url, guid, "cannot tell the article id from dc:identifier or the guid")
            if sec is None:
                rep.fail(client, url, guid, f"no section category among {[t.get('term') for t in e.get('tags', [])]!r}")
            elif section and sec != section:
                rep.fail(client, url, guid, f"item of section {sec!r} in the {section!r} feed")
            # The link a reader opens: the one alternate, which must be this language's page.
            if len(alternates) != 1 or alternates[0] != link:
                rep.fail(client, url, guid, f"entry.link is {link!r} but rel=alternate links are {alternates!r} (want exactly one, the item's page)")
            via = vias[0] if len(vias) == 1 else None
            why = link_problem(site, lang, link, via)
            if why:
                rep.fail(client, url, guid, f"entry.link {link!r} {why}")
            if link in related.values():
                rep.fail(client, url, guid, f"entry.link {link!r} is also a rel=related sibling")
            if lang in related:
                rep.fail(client, url, guid, f"rel=related names the feed's own language {lang!r}: {related[lang]!r}")
            if art and sec:
                template = site.page(lang, sec, art)
                if link != template and not why:
                    notes.append(f"{url} {guid}: link {link!r} is the article's own URL, not the page_url pattern {template!r}")
            if translated:
                if len(vias) != 1:
                    rep.fail(client, url, guid, f"want exactly one rel=via link (the Indonesian original), got {vias!r}")
                if fmt == "rss" and e.get("dc_source") != via:
                    rep.fail(client, url, guid, f"dc:source is {e.get('dc_source')!r}, rel=via is {via!r}")
            elif vias or e.get("dc_source"):
                rep.fail(client, url, guid, f"an original names a source: via={vias!r} dc:source={e.get('dc_source')!r}")
            # Language of the entry's texts, where the format carries it.
            entry_lang = e.get("language") or e.get("title_detail", {}).get("language")
            if entry_lang and entry_lang != lang:
                rep.fail(client, url, guid, f"entry language {entry_lang!r}, want {lang!r}")
            # Title and summary as shown.
            title = e.get("title", "")
            fails, warns = text_problems(site, "title", title, is_title=True)
            summary_detail = e.get("summary_detail", {})
            summary = e.get("summary", "")
            if summary_detail.get("type") == "text/html":
                m = ANY_TAG.search(summary)
                if m:
                    fails.append(f"summary (HTML) contains markup {m.group(0)!r}: {shorten(summary)!r}")
                summary_text = html.unescape(summary)
            else:
                summary_text = summary
            f2, w2 = text_problems(site, "summary", summary_text, is_title=False)
            fails += f2
            warns += w2
            notice = site.langs[lang].get("machine_notice")
            if notice and notice in summary_text:
                warns.append("summary contains the machine-translation notice")
            content = " ".join(c.get("value", "") for c in e.get("content", []))
            for word in DISCLAIMER_WORDS:
                if word in content.lower():
                    fails.append(f"content contains the English disclaimer ({word!r})")
            for f in fails:
                rep.fail(client, url, guid, f)
            for w in warns:
                rep.warn(client, url, guid, w)
            rec = {"url": url, "lang": lang, "section": section, "format": fmt, "guid": guid, "article": art,
                   "link": link, "via": via, "related": related, "title": title,
                   "dc_source": e.get("dc_source"),
                   "ok": not why and len(alternates) == 1 and alternates[0] == link}
            records.append(rec)
            items[guid] = {"link": link, "via": via, "related": related, "title": title, "article": art}
        expect[url] = {"lang": lang, "section": section, "format": fmt, "items": items}
        print(f"checked {url}: {len(d.entries)} entries, bozo={int(bool(d.bozo))}, "
              f"version={d.version}, language={d.feed.get('language')}")

    # Each language's page of an article, as that language's own feeds give it.
    # Only links that passed the checks above count as a language's page; a
    # language's feeds (RSS, Atom, sections) must all agree on it.
    page: dict[tuple[str, str], str] = {}
    first: dict[tuple[str, str], dict] = {}
    for r in records:
        if r["article"] is None:
            continue
        key = (r["lang"], r["article"])
        if key in first and first[key]["link"] != r["link"]:
            rep.fail(client, r["url"], r["guid"], f"{r['lang']} feeds disagree on this item's link: {r['link']!r} here, "
                     f"{first[key]['link']!r} in {first[key]['url']}")
        first.setdefault(key, r)
        if r["ok"]:
            page.setdefault(key, r["link"])
    for r in records:
        if r["lang"] == site.original or r["article"] is None:
            continue
        orig = page.get((site.original, r["article"]))
        if orig is not None and r["via"] != orig:
            rep.fail(client, r["url"], r["guid"], f"rel=via {r['via']!r} is not the Indonesian feed's link {orig!r}")
        if orig is not None and r["link"] == orig:
            rep.fail(client, r["url"], r["guid"], f"entry.link {r['link']!r} is the Indonesian feed's link for this article")
        for hl, href in r["related"].items():
            sib = page.get((hl, r["article"]))
            if sib is not None and sib != href:
                rep.fail(client, r["url"], r["guid"], f"rel=related {hl} {href!r} is not the {hl} feed's link {sib!r}")
    # RSS and Atom of one feed must carry the same items.
    groups: dict[tuple, dict[str, set]] = {}
    for r in records:
        groups.setdefault((r["lang"], r["section"]), {}).setdefault(r["format"], set()).add(r["guid"])
    for (lang, section), by_fmt in groups.items():
        if len(by_fmt) == 2 and by_fmt["rss"] != by_fmt["atom"]:
            rep.fail(client, base + feed_path(lang, section, "rss"), "-",
                     f"RSS and Atom differ: only RSS {sorted(by_fmt['rss'] - by_fmt['atom'])}, only Atom {sorted(by_fmt['atom'] - by_fmt['rss'])}")
    # A translation titled exactly as its Indonesian original looks untranslated.
    orig_title = {(r["section"], r["format"], r["article"]): r["title"] for r in records if r["lang"] == site.original}
    for r in records:
        if r["lang"] != site.original and orig_title.get((r["section"], r["format"], r["article"])) == r["title"]:
            rep.warn(client, r["url"], r["guid"], f"title equals the Indonesian title {r['title']!r}")
    Path(args.expect).write_text(json.dumps(expect, ensure_ascii=False, indent=1))

    print()
    if notes:
        print(f"notes ({len(notes)}): links that are an article's stored URL rather than the page_url pattern (allowed):")
        for n in notes[:12]:
            print("  " + n)
        if len(notes) > 12:
            print(f"  … and {len(notes) - 12} more")
    print("feedparser examples (translated items, main feeds):")
    shown = set()
    for r in records:
        if r["section"] is None and r["lang"] != site.original and (r["lang"], r["format"]) in (
                ("fr", "atom"), ("fr", "rss"), ("ar", "atom"), ("zh", "rss")) and (r["lang"], r["format"]) not in shown:
            shown.add((r["lang"], r["format"]))
            extra = f"\n    dc_source  = {r['dc_source']}" if r["format"] == "rss" else ""
            print(f"  {r['url']}  {r['guid']}\n    entry.link = {r['link']}\n    via        = {r['via']}{extra}\n    title      = {r['title']}")
    n_tr = sum(1 for r in records if r["lang"] != site.original)
    print(f"feedparser: {n_feeds} feeds, {len(records)} entries ({n_tr} translated), "
          f"{len(rep.fails)} failures, {len(rep.warns)} warnings")
    return 1 if rep.fails else 0


def entry_section(site: Site, lang: str, fmt: str, e) -> str | None:
    for tag in e.get("tags", []):
        term = tag.get("term")
        if tag.get("scheme"):
            continue
        if fmt == "atom" and term in site.sections:
            return term
        if fmt == "rss" and term in site.section_by_name.get(lang, {}):
            return site.section_by_name[lang][term]
    return None


# --------------------------------------------------------------------------- newsboat


def run_newsboat(args) -> int:
    site = Site(Path(args.config))
    expect = json.loads(Path(args.expect).read_text())
    rep = Report()
    n_feeds = n_items = n_translated = 0
    shown: set[str] = set()
    files = sorted(Path(args.rows).glob("*.url"), key=lambda p: int(p.stem) if p.stem.isdigit() else 0)
    if not files:
        print("check_readers: no newsboat rows to check", file=sys.stderr)
        return 2
    print("newsboat: checking the urls and titles it stored (rss_item)")
    for path in files:
        url = path.read_text().strip()
        rows_text = path.with_suffix(".rows").read_text() if path.with_suffix(".rows").exists() else ""
        rows = json.loads(rows_text) if rows_text.strip() else []
        err_path = path.with_suffix(".err")
        error = err_path.read_text().strip() if err_path.exists() else ""
        want = expect.get(url)
        n_feeds += 1
        if want is None:
            rep.fail("newsboat", url, "-", "feed not checked by feedparser first")
            continue
        lang = want["lang"]
        if error:
            rep.warn("newsboat", url, "-", f"newsboat said: {shorten(error, 300)}")
        got = {r["guid"]: r for r in rows if r.get("feedurl") == url}
        if len(got) != len(want["items"]):
            rep.fail("newsboat", url, "-", f"newsboat stored {len(got)} items, feedparser saw {len(want['items'])}")
        for guid in sorted(set(want["items"]) - set(got)):
            rep.fail("newsboat", url, guid, "item missing from newsboat's cache")
        for guid, row in got.items():
            n_items += 1
            item = want["items"].get(guid)
            if item is None:
                rep.fail("newsboat", url, guid, f"item not in the feed as feedparser saw it (url {row['url']!r})")
                continue
            translated = lang != site.original
            n_translated += translated
            why = link_problem(site, lang, row["url"], item["via"])
            if why:
                rep.fail("newsboat", url, guid, f"item url {row['url']!r} {why}")
            elif row["url"] != item["link"]:
                rep.fail("newsboat", url, guid, f"newsboat and feedparser disagree on the link: newsboat url {row['url']!r}, "
                         f"feedparser entry.link {item['link']!r}")
            fails, warns = text_problems(site, "title", row.get("title", ""), is_title=True)
            for f in fails:
                rep.fail("newsboat", url, guid, f)
            for w in warns:
                rep.warn("newsboat", url, guid, w)
            if row.get("title") != item["title"]:
                rep.warn("newsboat", url, guid, f"newsboat title {row.get('title')!r} != feedparser title {item['title']!r}")
            if translated and want["section"] is None and (lang, want["format"]) in (("fr", "rss"), ("ar", "atom"), ("ja", "rss")) \
                    and url not in shown:
                shown.add(url)
                print(f"  example: {url}\n    url   = {row['url']}\n    title = {row['title']}")
        print(f"checked {url}: {len(got)} items")
    print(f"newsboat: {n_feeds} feeds, {n_items} items ({n_translated} translated), "
          f"{len(rep.fails)} failures, {len(rep.warns)} warnings")
    return 1 if rep.fails else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("feeds")
    p.add_argument("--config", required=True)
    p.add_argument("--sections", default=os.environ.get("SECTIONS", "all"))
    p = sub.add_parser("feedparser")
    p.add_argument("--base", required=True)
    p.add_argument("--config", required=True)
    p.add_argument("--sections", default=os.environ.get("SECTIONS", "all"))
    p.add_argument("--expect", required=True)
    p = sub.add_parser("newsboat")
    p.add_argument("--config", required=True)
    p.add_argument("--expect", required=True)
    p.add_argument("--rows", required=True)
    args = ap.parse_args()
    if args.cmd == "feeds":
        site = Site(Path(args.config))
        for lang, section, fmt in site.feed_paths(args.sections):
            print(feed_path(lang, section, fmt))
        return 0
    if args.cmd == "feedparser":
        return run_feedparser(args)
    return run_newsboat(args)


if __name__ == "__main__":
    sys.exit(main())
