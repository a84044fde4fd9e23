// Opens feed URLs in a real browser (Chromium, headless) as a person would:
// a top-level navigation typed into the address bar. Prints, as JSON, what
// the page showed: its language and direction, the item titles, every console
// error and page error, what the copy button put on the clipboard, and where
// the screenshot is.
//
//   node preview.mjs CHROMIUM_PATH OUT_DIR URL...
import { chromium } from "playwright-core";

const [executablePath, outDir, ...urls] = process.argv.slice(2);
if (!executablePath || !outDir || urls.length === 0) {
  console.error("usage: node preview.mjs CHROMIUM_PATH OUT_DIR URL...");
  process.exit(2);
}

// A 1×1 PNG: the items' images live on the news site, which a test machine
// cannot reach, so the browser is handed this instead (after its own
// Content-Security-Policy check, which runs before any request).
const PIXEL = Buffer.from(
  "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
  "base64",
);

const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
const results = [];
try {
  for (const [n, url] of urls.entries()) {
    const origin = new URL(url).origin;
    const context = await browser.newContext({ viewport: { width: 1000, height: 1400 } });
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
    const page = await context.newPage();
    const errors = [];
    page.on("console", (m) => m.type() === "error" && errors.push(`console: ${m.text()}`));
    page.on("pageerror", (e) => errors.push(`page: ${e.message}`));
    const images = [];
    await page.route((u) => u.origin !== origin, (route) => {
      images.push(route.request().url());
      return route.fulfill({ status: 200, contentType: "image/png", body: PIXEL });
    });
    const response = await page.goto(url, { waitUntil: "load" });
    const shown = await page.evaluate(() => ({
      lang: document.documentElement.lang,
      dir: document.documentElement.dir,
      title: document.title,
      items: [...document.querySelectorAll("article h3 a")].map((a) => ({
        title: a.textContent,
        href: a.href,
      })),
      notices: document.querySelectorAll("article .notice a[hreflang]").length,
      imagesWithAlt: [...document.querySelectorAll("article img")].filter((i) => i.alt).length,
      feedUrl: document.getElementById("feed-url")?.value,
      copyVisible: !document.querySelector("button[data-copy]")?.hidden,
    }));
    await page.click("button[data-copy]");
    await page.waitForFunction(() => {
      const b = document.querySelector("button[data-copy]");
      return b.textContent === b.dataset.done;
    }, null, { timeout: 5000 });
    const clipboard = await page.evaluate(() => navigator.clipboard.readText());
    const screenshot = `${outDir}/preview-${n}.png`;
    await page.screenshot({ path: screenshot, fullPage: false });
    // The same page with script off: everything but the Copy button reads.
    const plain = await browser.newContext({ javaScriptEnabled: false });
    const plainPage = await plain.newPage();
    await plainPage.route((u) => u.origin !== origin, (route) =>
      route.fulfill({ status: 200, contentType: "image/png", body: PIXEL }));
    await plainPage.goto(url, { waitUntil: "load" });
    const withoutScript = await plainPage.evaluate(() => ({
      items: document.querySelectorAll("article h3 a").length,
      feedUrl: document.getElementById("feed-url")?.value,
      copyHidden: document.querySelector("button[data-copy]")?.hidden,
    }));
    await plain.close();
    results.push({
      withoutScript,
      url,
      status: response.status(),
      contentType: response.headers()["content-type"],
      ...shown,
      clipboard,
      images: images.length,
      errors,
      screenshot,
    });
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(results));
