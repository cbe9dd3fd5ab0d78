#!/usr/bin/env python3
"""The Scrapy side of tools/bench/crawl: the same fetch + parse + store as Crawlium's crawl.

    python scrapy_spider.py site    START_URL OUT.jsonl [--max-pages N] [--max-depth D] [--concurrency C]
    python scrapy_spider.py sitemap SITE_URL  OUT.jsonl [--max-pages N] [--concurrency C]

site: follows links within the start URL's host, breadth-first, to depth D (default 4), stopping
after N pages (default 5000). sitemap: reads the Sitemap lines of SITE_URL/robots.txt (a sitemap
index and its children, gzipped ones too) and fetches every listed page, following no links.
For every HTML page one JSON line: url, status, title, meta description, main text, links.
robots.txt is obeyed; 16 concurrent requests (all to the one host); no autothrottle, no cache.
"""

import argparse
import sys
from urllib.parse import urldefrag, urljoin, urlsplit

import scrapy
from scrapy.crawler import CrawlerProcess
from scrapy.spiders import SitemapSpider


def page_item(response):
    main = response.css("main")
    scope = main if main else response.css("body")
    text = " ".join(t.strip() for t in scope.css("::text").getall() if t.strip())
    hrefs = response.css("a::attr(href)").getall()
    links = list(dict.fromkeys(urldefrag(response.urljoin(h))[0] for h in hrefs))
    return {
        "url": response.url,
        "status": response.status,
        "title": (response.css("title::text").get() or "").strip(),
        "description": response.css('meta[name="description"]::attr(content)').get(),
        "text": text,
        "links": links,
    }


class SiteSpider(scrapy.Spider):
    """crawl_site: start URL, same host, follow every link."""

    name = "bench_site"

    def __init__(self, start_url, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [start_url]
        self.allowed_domains = [urlsplit(start_url).hostname]

    async def start(self):
        # Not Scrapy's default dont_filter=True: the start URL must go through the dupe
        # filter too, or the first link back to it fetches it a second time.
        yield scrapy.Request(self.start_urls[0], callback=self.parse)

    def parse(self, response):
        if not isinstance(response, scrapy.http.HtmlResponse):
            return
        item = page_item(response)
        yield item
        for url in item["links"]:  # absolute already: no second urljoin in response.follow
            if url.startswith(("http://", "https://")):
                yield scrapy.Request(url, callback=self.parse)


class BenchSitemapSpider(SitemapSpider):
    """crawl_sitemap: robots.txt Sitemap lines -> sitemap index -> sitemaps -> pages."""

    name = "bench_sitemap"

    def __init__(self, start_url, **kwargs):
        super().__init__(**kwargs)
        self.sitemap_urls = [urljoin(start_url, "/robots.txt")]
        self.allowed_domains = [urlsplit(start_url).hostname]

    def parse(self, response):
        if isinstance(response, scrapy.http.HtmlResponse):
            yield page_item(response)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("mode", choices=["site", "sitemap"])
    ap.add_argument("url")
    ap.add_argument("out")
    ap.add_argument("--max-pages", type=int, default=5000)
    ap.add_argument("--max-depth", type=int, default=4)
    ap.add_argument("--concurrency", type=int, default=16)
    ap.add_argument("-s", "--set", action="append", default=[], metavar="NAME=VALUE",
                    help="override a Scrapy setting (repeatable)")
    args = ap.parse_args()
    settings = {
        "BOT_NAME": "crawlbench",
        "USER_AGENT": "CrawlBench-Scrapy (+tools/bench/crawl)",
        "ROBOTSTXT_OBEY": True,
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "DOWNLOAD_DELAY": 0,
        "AUTOTHROTTLE_ENABLED": False,
        "HTTPCACHE_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "COOKIES_ENABLED": False,
        "RETRY_ENABLED": False,
        "LOG_LEVEL": "WARNING",
        "CLOSESPIDER_ITEMCOUNT": args.max_pages,
        "FEEDS": {args.out: {"format": "jsonlines", "encoding": "utf8", "overwrite": True}},
    }
    if args.mode == "site":
        # Breadth-first, as the crawler does, so that DEPTH_LIMIT cuts the same pages.
        settings.update(
            {
                "DEPTH_LIMIT": args.max_depth,
                "DEPTH_PRIORITY": 1,
                "SCHEDULER_DISK_QUEUE": "scrapy.squeues.PickleFifoDiskQueue",
                "SCHEDULER_MEMORY_QUEUE": "scrapy.squeues.FifoMemoryQueue",
            }
        )
    for pair in args.set:
        name, _, value = pair.partition("=")
        settings[name] = value
    process = CrawlerProcess(settings)
    spider = SiteSpider if args.mode == "site" else BenchSitemapSpider
    crawler = process.create_crawler(spider)
    process.crawl(crawler, start_url=args.url)
    process.start()
    stats = crawler.stats.get_stats()
    print(
        f"scrapy {args.mode}: {stats.get('item_scraped_count', 0)} items, "
        f"{stats.get('downloader/response_count', 0)} responses, "
        f"finish_reason={stats.get('finish_reason')}",
        file=sys.stderr,
    )
    errors = stats.get("log_count/ERROR", 0)
    sys.exit(1 if errors and not stats.get("item_scraped_count") else 0)


if __name__ == "__main__":
    main()
