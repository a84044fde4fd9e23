"""Reads Kabar's sitemaps as search tools do, for tests/sitemaps.rs.

Usage: sitemap_reader.py SITEMAP_INDEX_URL SCHEMA_DIR

Checks the sitemap index against the sitemap 0.9 index schema and every news
sitemap it lists against the sitemap, news and xhtml:link schemas (lxml),
then reads the whole tree with ultimate-sitemap-parser, and prints one JSON
document: each sitemap's URL with the pages usp read from it (URL, news
title, publication date, publication name and language, alternates), and
every schema error found.
"""

import json
import sys
import urllib.request

from lxml import etree
from usp.fetch_parse import SitemapFetcher
from usp.objects.sitemap import AbstractIndexSitemap


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def schema_errors(schema, url):
    document = etree.fromstring(fetch(url))
    if schema.validate(document):
        return []
    return [f"{url}: {error.line}: {error.message}" for error in schema.error_log]


def page(p):
    story = p.news_story
    return {
        "url": p.url,
        "title": story.title if story else None,
        "publish_date": story.publish_date.isoformat() if story and story.publish_date else None,
        "publication_name": story.publication_name if story else None,
        "publication_language": story.publication_language if story else None,
        "alternates": [list(a) for a in (p.alternates or [])],
    }


def main():
    index_url, schema_dir = sys.argv[1], sys.argv[2]
    index_schema = etree.XMLSchema(etree.parse(f"{schema_dir}/siteindex.xsd"))
    news_schema = etree.XMLSchema(etree.parse(f"{schema_dir}/news-sitemap.xsd"))

    tree = SitemapFetcher(url=index_url, recursion_level=0).sitemap()
    if not isinstance(tree, AbstractIndexSitemap):
        raise SystemExit(f"usp did not read {index_url} as a sitemap index: {tree!r}")
    errors = schema_errors(index_schema, index_url)
    sitemaps = []
    for sub in tree.sub_sitemaps:
        errors += schema_errors(news_schema, sub.url)
        sitemaps.append({
            "url": sub.url,
            "kind": type(sub).__name__,
            "pages": [page(p) for p in sub.all_pages()],
        })
    print(json.dumps({"sitemaps": sitemaps, "schema_errors": errors}))


if __name__ == "__main__":
    main()
