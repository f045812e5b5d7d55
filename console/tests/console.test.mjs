// The console in a real browser (Debian's Chromium, driven by playwright-core) against
// the running stack: the test sends an hour of tags of its own through the front door
// (a free hour in 2031, its own cookies), waits until /v1/ shows them, then checks
// what each panel shows against a model of what it sent: the chart's values under the
// cursor and per bucket, the top-N rows, the shopper's timeline, the ingest figures
// against the readings the page received. Then a read-api of its own with API keys:
// 401 with a Basic challenge without one, and the whole page after one login. Then a
// read-api whose cube window is one minute, so the hour is older than the cube's window
// and comes from the archive: the same figures, and each panel says so.
//
// Screenshots go to .stack/console-test/ (docs/console/ with `make console-screenshots`).

import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import {
  ROOT,
  SHOTS,
  STACK,
  apiTime,
  eventually,
  expectedTop,
  formatInteger,
  formatMinute,
  formatRate,
  formatSeconds,
  formatShare,
  getJson,
  knownHour,
  launchBrowser,
  minuteTotals,
  rebucket,
  runId,
  sendTags,
  startReadApi,
} from "./support.mjs";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const VIEWPORT = { width: 1280, height: 900 };

let browser;
/** The hour's first minute (ms), the tags sent, the shopper with a known history. */
let start;
let known;

/** A free hour of 2031: nothing of either action stored in it. */
async function freeHour() {
  for (;;) {
    const hour = Date.UTC(2031, 0, 1) + Math.floor(Math.random() * 364 * 24) * HOUR;
    const empty = await Promise.all(
      ["VIEW", "BUY"].map(async (action) => {
        const series = await getJson(
          `${STACK.frontDoor}/v1/series?from=${apiTime(hour)}&to=${apiTime(hour + 2 * HOUR)}&action=${action}&bucket=1h`,
        );
        return series.points.every((point) => point.count === 0);
      }),
    );
    if (empty.every(Boolean)) return hour;
  }
}

before(async () => {
  browser = await launchBrowser();
  // A tag answered 503 may or may not be stored: then the figures are unknown, and the
  // hour is given up for another.
  for (let attempt = 1; ; attempt++) {
    start = await freeHour();
    known = knownHour(start, runId());
    const unavailable = await sendTags(known.tags);
    if (unavailable === 0) break;
    assert.ok(attempt < 3, `${unavailable} tags answered 503 in each of 3 hours`);
  }
  const views = minuteTotals(known.tags, start, "VIEW", 60).reduce((sum, minute) => sum + minute.count, 0);
  const buys = minuteTotals(known.tags, start, "BUY", 60).reduce((sum, minute) => sum + minute.count, 0);
  await eventually("the hour's tags in /v1/series", async () => {
    const [viewSeries, buySeries] = await Promise.all(
      ["VIEW", "BUY"].map((action) =>
        getJson(`${STACK.frontDoor}/v1/series?from=${apiTime(start)}&to=${apiTime(start + HOUR)}&action=${action}&bucket=1h`),
      ),
    );
    return viewSeries.points[0].count === views && buySeries.points[0].count === buys;
  });
  await eventually("alice's profile", async () => {
    const shopper = await getJson(`${STACK.frontDoor}/v1/shoppers/${known.alice}`);
    return shopper.views.length + shopper.buys.length === known.aliceTags.length;
  });
});

after(async () => {
  await browser?.close();
});

/** A page of the console at `base` with `query`; collects the page's errors. */
async function open(context, query, base = STACK.frontDoor) {
  const page = await context.newPage();
  page.errors = [];
  page.on("pageerror", (error) => page.errors.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    if (message.type() === "error") page.errors.push(`console: ${message.text()}`);
  });
  await page.goto(`${base}/console/?${query}`);
  return page;
}

/** Waits until `read(page)` equals `expected`, then asserts it (with what was seen). */
async function expectShown(page, what, read, expected, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  let seen;
  for (;;) {
    seen = await read(page);
    if (JSON.stringify(seen) === JSON.stringify(expected) || Date.now() > deadline) break;
    await page.waitForTimeout(100);
  }
  assert.deepEqual(seen, expected, what);
}

const figure = (name) => (page) => page.locator(`[data-figure="${name}"]`).first().textContent();

const seriesTable = (page) =>
  page.locator("#series-table tbody tr").evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll("td")].map((cell) => cell.textContent)),
  );

const topTable = (page) =>
  page.locator("#top-table tbody tr").evaluateAll((rows) =>
    rows.map((row) => [...row.querySelectorAll("td")].map((cell) => cell.textContent)),
  );

/** The legend of the series chart with the cursor on bucket `index` of `count`. */
async function hoverBucket(page, index, count) {
  const box = await page.locator("#series-chart .u-over").boundingBox();
  const fraction = count === 1 ? 0.5 : index / (count - 1);
  const x = Math.min(box.x + box.width - 1, Math.max(box.x + 1, box.x + fraction * box.width));
  await page.mouse.move(x, box.y + box.height / 2);
  return page
    .locator("#series-chart .u-legend .u-series .u-value")
    .evaluateAll((cells) => cells.map((cell) => cell.textContent));
}

function expectedRows(buckets, from, width) {
  return buckets.map((bucket, index) => [
    formatMinute(from + index * width),
    formatInteger(bucket.count),
    formatInteger(bucket.sum_price),
  ]);
}

describe("the console against the running stack", () => {
  test("is served at /console and /console/ with its types and cache headers", async () => {
    const html = readFileSync(path.join(ROOT, "console", "dist", "index.html"), "utf8");
    const script = html.match(/src="(\/console\/assets\/[^"]+\.js)"/)[1];
    const style = html.match(/href="(\/console\/assets\/[^"]+\.css)"/)[1];
    for (const page of ["/console", "/console/"]) {
      const answer = await fetch(`${STACK.frontDoor}${page}`);
      assert.equal(answer.status, 200, page);
      assert.equal(answer.headers.get("content-type"), "text/html; charset=utf-8");
      assert.equal(answer.headers.get("cache-control"), "no-cache");
      assert.equal(await answer.text(), html, "the page is the committed build");
      const again = await fetch(`${STACK.frontDoor}${page}`, {
        headers: { "if-none-match": answer.headers.get("etag") },
      });
      assert.equal(again.status, 304, "revalidated by its ETag");
    }
    for (const [file, type] of [
      [script, "text/javascript; charset=utf-8"],
      [style, "text/css; charset=utf-8"],
    ]) {
      const answer = await fetch(`${STACK.frontDoor}${file}`);
      assert.equal(answer.status, 200, file);
      assert.equal(answer.headers.get("content-type"), type);
      assert.equal(answer.headers.get("cache-control"), "max-age=31536000, immutable");
    }
    assert.equal((await fetch(`${STACK.frontDoor}/console/assets/missing.js`)).status, 404);
  });

  test("series: the chart, its figures and its table are the hour's tags", async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await open(context, `view=explore&from=${apiTime(start)}&to=${apiTime(start + HOUR)}`);
    const views = minuteTotals(known.tags, start, "VIEW", 60);

    await expectShown(page, "per-minute views", seriesTable, expectedRows(views, start, MINUTE));
    const viewCount = views.reduce((sum, minute) => sum + minute.count, 0);
    const viewRevenue = views.reduce((sum, minute) => sum + minute.sum_price, 0);
    const peak = views.reduce((best, minute, index) => (minute.count > views[best].count ? index : best), 0);
    assert.equal(await figure("total-count")(page), formatInteger(viewCount));
    assert.equal(await figure("total-revenue")(page), formatInteger(viewRevenue));
    assert.equal(await figure("peak")(page), formatInteger(views[peak].count));
    assert.equal(await figure("peak-at")(page), `at ${formatMinute(start + peak * MINUTE)}`);
    assert.equal(await figure("buckets")(page), "60");
    assert.equal(await page.locator("#series-title").textContent(), "Views per minute");

    // What the chart itself shows: the legend's value under the cursor, bucket by bucket.
    for (const index of [0, 13, peak, 47, 59]) {
      assert.deepEqual(
        await hoverBucket(page, index, 60),
        [formatMinute(start + index * MINUTE), formatInteger(views[index].count)],
        `the chart at minute ${index}`,
      );
    }
    await page.mouse.move(0, 0);
    await hoverBucket(page, peak, 60);
    await page.screenshot({ path: path.join(SHOTS, "explore.png"), fullPage: true });
    await page.locator("#series-panel").screenshot({ path: path.join(SHOTS, "series.png") });

    // Revenue instead of count.
    await page.getByRole("radiogroup", { name: "Metric" }).getByText("Revenue").click();
    await expectShown(page, "title", (p) => p.locator("#series-title").textContent(), "Revenue of views per minute");
    assert.deepEqual(await hoverBucket(page, 21, 60), [
      formatMinute(start + 21 * MINUTE),
      formatInteger(views[21].sum_price),
    ]);

    // Buys in 5-minute buckets.
    await page.getByRole("radiogroup", { name: "Action" }).getByText("Buys").click();
    await page.getByRole("radiogroup", { name: "Bucket" }).getByText("5m").click();
    const buys5 = rebucket(minuteTotals(known.tags, start, "BUY", 60), 5);
    await expectShown(page, "5-minute buys", seriesTable, expectedRows(buys5, start, 5 * MINUTE));
    assert.deepEqual(await hoverBucket(page, 7, 12), [
      formatMinute(start + 7 * 5 * MINUTE),
      formatInteger(buys5[7].sum_price),
    ]);

    // Filters: views from Poland on mobiles, per minute.
    await page.getByRole("radiogroup", { name: "Action" }).getByText("Views").click();
    await page.getByRole("radiogroup", { name: "Metric" }).getByText("Count").click();
    await page.getByRole("radiogroup", { name: "Bucket" }).getByText("1m").click();
    await page.locator('#explore-form [name="country"]').fill("PL");
    await page.locator('#explore-form [name="country"]').press("Enter");
    await page.locator('#explore-form [name="device"]').selectOption("MOBILE");
    const filtered = minuteTotals(known.tags, start, "VIEW", 60, (tag) => tag.country === "PL" && tag.device === "MOBILE");
    await expectShown(page, "views from PL on mobiles", seriesTable, expectedRows(filtered, start, MINUTE));
    assert.equal(
      await figure("total-count")(page),
      formatInteger(filtered.reduce((sum, minute) => sum + minute.count, 0)),
    );
    assert.match(page.url(), /country=PL/);
    assert.match(page.url(), /device=MOBILE/);

    // A range typed in: half an hour from minute 10, no filters.
    await page.getByRole("button", { name: "clear filters" }).click();
    await page.locator('#explore-form [name="from"]').fill(formatMinute(start + 10 * MINUTE));
    await page.locator('#explore-form [name="to"]').fill(formatMinute(start + 40 * MINUTE));
    await page.locator('#explore-form [name="to"]').press("Enter");
    await expectShown(page, "minutes 10 to 40", seriesTable, expectedRows(views.slice(10, 40), start + 10 * MINUTE, MINUTE));
    assert.equal(new URL(page.url()).searchParams.get("from"), apiTime(start + 10 * MINUTE));

    // A drag across the chart from minute 15 to minute 24 (of the 30 shown) zooms to them.
    const box = await page.locator("#series-chart .u-over").boundingBox();
    const at = (index) => box.x + (index / 29) * box.width;
    await page.mouse.move(at(5), box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(at(14), box.y + box.height / 2, { steps: 5 });
    await page.mouse.up();
    await expectShown(page, "minutes 15 to 24", seriesTable, expectedRows(views.slice(15, 25), start + 15 * MINUTE, MINUTE));
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test("top-N: ranked rows with counts, revenue and shares; a click filters", async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await open(context, `view=explore&from=${apiTime(start)}&to=${apiTime(start + HOUR)}`);
    const shown = (top, by) =>
      top.rows.map((row, index) => [
        String(index + 1),
        row.value,
        formatInteger(row.count),
        formatInteger(row.sum_price),
        formatShare(row[by], top.total[by]),
      ]);

    const origins = expectedTop(known.tags, "VIEW", "origin", "count", 10);
    await expectShown(page, "top origins by count", topTable, shown(origins, "count"));
    await page.locator("#top-panel").screenshot({ path: path.join(SHOTS, "top.png") });

    await page.locator('#top-form [name="dimension"]').selectOption("brand_id");
    await page.locator('#top-form [name="by"]').selectOption("sum_price");
    await page.locator('#top-form [name="limit"]').selectOption("5");
    const brands = expectedTop(known.tags, "VIEW", "brand_id", "sum_price", 5);
    await expectShown(page, "top brands by revenue", topTable, shown(brands, "sum_price"));
    assert.equal(await page.locator("#top-value-heading").textContent(), "Brand");

    await page.getByRole("radiogroup", { name: "Action" }).getByText("Buys").click();
    await page.locator('#top-form [name="dimension"]').selectOption("country");
    const countries = expectedTop(known.tags, "BUY", "country", "sum_price", 5);
    await expectShown(page, "top countries of buys by revenue", topTable, shown(countries, "sum_price"));

    // A click on a row filters both panels by its value.
    const first = countries.rows[0].value;
    await page.locator(`#top-table tr[data-value="${first}"]`).click();
    assert.equal(await page.locator('#explore-form [name="country"]').inputValue(), first);
    const buysThere = minuteTotals(known.tags, start, "BUY", 60, (tag) => tag.country === first);
    await expectShown(page, `buys in ${first}`, seriesTable, expectedRows(buysThere, start, MINUTE));
    await expectShown(page, `top countries within ${first}`, topTable, [
      ["1", first, formatInteger(countries.rows[0].count), formatInteger(countries.rows[0].sum_price), "100.0%"],
    ]);
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test("shopper: a cookie's views and buys as a timeline, newest first", async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await open(context, "view=shopper");
    await page.locator('#shopper-form [name="cookie"]').fill(known.alice);
    await page.getByRole("button", { name: "Show" }).click();

    const newestFirst = [...known.aliceTags].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
    const timeline = (p) =>
      p.locator("#shopper-timeline li.event").evaluateAll((items) =>
        items.map((item) => [Date.parse(item.dataset.time), item.dataset.action, item.querySelector(".price").textContent]),
      );
    await expectShown(
      page,
      "alice's timeline",
      timeline,
      newestFirst.map((tag) => [Date.parse(tag.time), tag.action, formatInteger(tag.product_info.price)]),
    );
    const buys = known.aliceTags.filter((tag) => tag.action === "BUY");
    assert.equal(await figure("shopper-views")(page), String(known.aliceTags.length - buys.length));
    assert.equal(await figure("shopper-buys")(page), String(buys.length));
    assert.equal(
      await figure("shopper-spent")(page),
      formatInteger(buys.reduce((sum, tag) => sum + tag.product_info.price, 0)),
    );
    assert.equal(await page.locator("#shopper-timeline li.day").textContent(), apiTime(start).slice(0, 10));
    assert.equal(await page.locator("#shopper-strip circle").count(), known.aliceTags.length);
    assert.match(page.url(), new RegExp(`cookie=${known.alice}`));
    await page.locator("#view-shopper").screenshot({ path: path.join(SHOTS, "shopper.png") });

    // A range narrows it: the first half hour only.
    await page.locator('#shopper-form [name="from"]').fill(formatMinute(start));
    await page.locator('#shopper-form [name="to"]').fill(formatMinute(start + 30 * MINUTE));
    await page.getByRole("button", { name: "Show" }).click();
    await expectShown(
      page,
      "alice's first half hour",
      timeline,
      newestFirst
        .filter((tag) => Date.parse(tag.time) < start + 30 * MINUTE)
        .map((tag) => [Date.parse(tag.time), tag.action, formatInteger(tag.product_info.price)]),
    );
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test("ingest: rates from two readings, freshness and lag as read", async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const readings = [];
    const page = await context.newPage();
    page.errors = [];
    page.on("pageerror", (error) => page.errors.push(error.message));
    page.on("response", async (response) => {
      if (new URL(response.url()).pathname === "/v1/ingest" && response.status() === 200) {
        readings.push(await response.json());
      }
    });
    await page.goto(`${STACK.frontDoor}/console/?view=ingest&poll=1000`);
    await eventually("the first reading", () => readings.length >= 1, { timeoutMs: 10_000 });
    const first = readings[0];

    // Traffic while the page watches: 20 tags a second, an hour and a half after the
    // known hour (apart from it), until the figures are checked.
    let sending = true;
    let sent = 0;
    const sender = (async () => {
      const cookie = `${known.alice}-ingest`;
      while (sending) {
        const batch = Array.from({ length: 10 }, (_, index) => ({
          ...known.tags[index],
          cookie,
          time: new Date(start + 90 * MINUTE + (sent + index) * 10).toISOString(),
        }));
        await sendTags(batch, 4);
        sent += batch.length;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    })();
    try {
      await eventually("readings after 60 more tags", () =>
        readings.some((reading) => reading.tags_accepted >= first.tags_accepted + 60),
      );
      // The page shows the figures of its last two readings: find them among those it
      // received (a new one may arrive while the page is read, so read again).
      const shownPair = await eventually(
        "the figures of two consecutive readings",
        async () => {
          const shown = await page.evaluate(() =>
            Object.fromEntries(
              [...document.querySelectorAll("[data-figure]")].map((element) => [element.dataset.figure, element.textContent]),
            ),
          );
          for (let index = readings.length - 1; index >= 1; index--) {
            const [before, now] = [readings[index - 1], readings[index]];
            if (now.tags_accepted < first.tags_accepted + 60) break;
            // A pair with tags between them, so the rate shown is not a trivial zero.
            if (now.tags_accepted === before.tags_accepted) continue;
            const seconds = (now.sampled_at_ms - before.sampled_at_ms) / 1000;
            const expected = {
              "accepted-rate": formatRate((now.tags_accepted - before.tags_accepted) / seconds),
              "accepted-total": formatInteger(now.tags_accepted),
              "projected-rate": formatRate((now.rows_projected - before.rows_projected) / seconds),
              "projected-total": formatInteger(now.rows_projected),
              "rejected-total": formatInteger(now.tags_rejected),
              "unavailable-total": formatInteger(now.tags_unavailable),
              "answered-total": formatInteger(now.queries_answered),
              freshness: now.freshness_seconds === null ? "—" : formatSeconds(now.freshness_seconds),
              lag: now.consumer_lag === null ? "—" : formatInteger(now.consumer_lag),
            };
            if (Object.entries(expected).every(([name, text]) => shown[name] === text)) {
              return { shown, before, now };
            }
          }
          return null;
        },
        { timeoutMs: 20_000, everyMs: 100 },
      );
      assert.notEqual(shownPair.shown["accepted-rate"], formatRate(0));
      assert.notEqual(shownPair.shown.freshness, "—", "the projector reports its freshness");
      assert.notEqual(shownPair.shown.lag, "—", "the projector reports its lag");
      const peers = await page.locator("#ingest-peers li").allTextContents();
      assert.ok(peers.includes("write-api answering") && peers.includes("projector answering"), peers.join(", "));
      await eventually("a few readings for the chart", () => readings.length >= 8, { timeoutMs: 20_000 });
    } finally {
      sending = false;
      await sender;
    }
    await page.locator("#ingest-panel").screenshot({ path: path.join(SHOTS, "ingest.png") });
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test("the default range is the hour ending at the newest minute with data", async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await open(context, "");
    await eventually("a range", async () => /range=1h/.test(page.url()));
    // Not after the clock's minute; a stream dated ahead (this test's) only when
    // nothing is older.
    const bounded = await getJson(`${STACK.frontDoor}/v1/newest?before=${apiTime(Date.now() + MINUTE)}`);
    const minute = bounded.minute ?? (await getJson(`${STACK.frontDoor}/v1/newest`)).minute;
    const end = Date.parse(`${minute}Z`) + MINUTE;
    assert.equal(await page.locator('#explore-form [name="to"]').inputValue(), formatMinute(end));
    assert.equal(await page.locator('#explore-form [name="from"]').inputValue(), formatMinute(end - HOUR));
    await page.locator('[data-range="15m"]').click();
    await eventually("15 minutes", async () => /range=15m/.test(page.url()));
    await expectShown(
      page,
      "from",
      (p) => p.locator('#explore-form [name="from"]').inputValue(),
      formatMinute(end - 15 * MINUTE),
    );
    // The newest minute of the known hour, asked with the hour's end as the bound.
    const newest = await getJson(`${STACK.frontDoor}/v1/newest?before=${apiTime(start + HOUR)}`);
    assert.equal(newest.minute, apiTime(start + 59 * MINUTE));
    assert.deepEqual(page.errors, []);
    await context.close();
  });
});

describe("the console with API keys on", () => {
  let readApi;
  const KEY = "console-test-key";

  before(async () => {
    readApi = await startReadApi(`another-key,${KEY}`);
  });

  after(async () => {
    await readApi?.stop();
  });

  /** How many 401s the test's read-api answered so far. */
  async function refusals() {
    const metrics = await (await fetch(`${readApi.url}/metrics`)).text();
    return Number(/^read_api_unauthorized_total (\d+)/m.exec(metrics)?.[1] ?? 0);
  }

  /** A page whose Basic login prompts are answered by `answer` (CDP's auth hook). */
  async function withPrompts(context, answer) {
    const page = await context.newPage();
    const prompts = [];
    page.errors = [];
    page.on("pageerror", (error) => page.errors.push(error.message));
    const cdp = await context.newCDPSession(page);
    cdp.on("Fetch.requestPaused", (event) => {
      cdp.send("Fetch.continueRequest", { requestId: event.requestId }).catch(() => {});
    });
    cdp.on("Fetch.authRequired", (event) => {
      prompts.push({ url: event.request.url, scheme: event.authChallenge.scheme, realm: event.authChallenge.realm });
      cdp
        .send("Fetch.continueWithAuth", { requestId: event.requestId, authChallengeResponse: answer(prompts.length) })
        .catch(() => {});
    });
    await cdp.send("Fetch.enable", { handleAuthRequests: true });
    return { page, prompts };
  }

  test("401 with a Basic challenge without a key, for the page and the API", async () => {
    const html = readFileSync(path.join(ROOT, "console", "dist", "index.html"), "utf8");
    const script = html.match(/src="(\/console\/assets\/[^"]+\.js)"/)[1];
    for (const target of ["/console", "/console/", script, `/v1/series?from=${apiTime(start)}&to=${apiTime(start + HOUR)}&action=VIEW`]) {
      const answer = await fetch(`${readApi.url}${target}`);
      assert.equal(answer.status, 401, target);
      assert.match(answer.headers.get("www-authenticate") ?? "", /^Basic realm="Allezon Analytics"/, target);
      const wrong = await fetch(`${readApi.url}${target}`, { headers: { "x-api-key": "wrong" } });
      assert.equal(wrong.status, 401, target);
      const right = await fetch(`${readApi.url}${target}`, {
        headers: { authorization: `Basic ${Buffer.from(`anyone:${KEY}`).toString("base64")}` },
      });
      assert.equal(right.status, 200, target);
    }
  });

  test("one login in the browser's prompt, then every panel works", async (t) => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const { page, prompts } = await withPrompts(context, () => ({
      response: "ProvideCredentials",
      username: "analyst",
      password: KEY,
    }));
    const refusedBefore = await refusals();
    const statuses = [];
    page.on("response", (response) => {
      if (new URL(response.url()).pathname.startsWith("/v1/")) statuses.push(response.status());
    });
    await page.goto(`${readApi.url}/console/?view=explore&from=${apiTime(start)}&to=${apiTime(start + HOUR)}`);
    const views = minuteTotals(known.tags, start, "VIEW", 60);
    await expectShown(page, "per-minute views with a key", seriesTable, expectedRows(views, start, MINUTE));
    await expectShown(
      page,
      "top origins with a key",
      topTable,
      expectedTop(known.tags, "VIEW", "origin", "count", 10).rows.map((row, index) => [
        String(index + 1),
        row.value,
        formatInteger(row.count),
        formatInteger(row.sum_price),
        formatShare(row.count, expectedTop(known.tags, "VIEW", "origin", "count", 10).total.count),
      ]),
    );
    await page.getByRole("link", { name: "Shopper" }).click();
    await page.locator('#shopper-form [name="cookie"]').fill(known.alice);
    await page.getByRole("button", { name: "Show" }).click();
    await expectShown(
      page,
      "alice's timeline with a key",
      (p) => p.locator("#shopper-timeline li.event").count(),
      known.aliceTags.length,
    );
    await page.getByRole("link", { name: "Ingest" }).click();
    await expectShown(page, "ingest with a key", (p) => p.locator("#ingest-status").getAttribute("data-kind"), "info");

    // The browser asked once, for the page, and sent the login with the page's own
    // requests to /v1/ (same origin, same realm): no other prompt.
    assert.equal(prompts.length, 1, JSON.stringify(prompts));
    assert.match(prompts[0].url, /\/console\/\?view=explore/);
    assert.equal(prompts[0].scheme, "basic");
    assert.equal(prompts[0].realm, "Allezon Analytics");
    // Every /v1/ request of the page was answered (200), none asked the user; how many
    // the browser first sent without the login (and repeated with it, unasked) is the
    // read-api's count of 401s beyond the page's own first one.
    assert.ok(statuses.length >= 4 && statuses.every((status) => status === 200), statuses.join(","));
    const refused = (await refusals()) - refusedBefore;
    t.diagnostic(`/v1/ answers: ${statuses.length}; 401s read-api answered this browser: ${refused}`);
    assert.deepEqual(page.errors, []);
    await context.close();
  });

  test("a wrong key is asked again, and a cancelled prompt leaves the 401", async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const { page, prompts } = await withPrompts(context, (count) =>
      count === 1 ? { response: "ProvideCredentials", username: "analyst", password: "wrong" } : { response: "CancelAuth" },
    );
    const answer = await page.goto(`${readApi.url}/console/`);
    assert.equal(prompts.length, 2, JSON.stringify(prompts));
    assert.equal(answer.status(), 401);
    assert.equal(await page.locator("body").textContent(), '{"error":"unauthorized"}');
    await context.close();
  });
});

describe("the console over the archive", () => {
  let readApi;

  before(async () => {
    // The stack's archive (READ_API_ARCHIVE_URL, which scripts/lib.sh exports); a cube
    // window of one minute sends every range that starts before the cube's newest
    // minute to the archive, the known hour included.
    assert.ok(process.env.READ_API_ARCHIVE_URL, "READ_API_ARCHIVE_URL is set (scripts/lib.sh)");
    readApi = await startReadApi("", { READ_API_CUBE_WINDOW_MINUTES: "1" });
  });

  after(async () => {
    await readApi?.stop();
  });

  test("an hour older than the cube's window: the archive's figures, and the panels say so", async () => {
    const views = minuteTotals(known.tags, start, "VIEW", 60);
    const hour = `from=${apiTime(start)}&to=${apiTime(start + HOUR)}`;
    // The archiver closes a file a minute after its first record: wait for the hour's.
    await eventually(
      "the hour's views in the archive",
      async () => {
        const series = await getJson(`${readApi.url}/v1/series?${hour}&action=VIEW&bucket=1h&source=archive`);
        return series.points[0].count === views.reduce((sum, minute) => sum + minute.count, 0);
      },
      { timeoutMs: 180_000, everyMs: 2_000 },
    );

    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await open(context, `view=explore&${hour}`, readApi.url);
    await expectShown(page, "per-minute views from the archive", seriesTable, expectedRows(views, start, MINUTE));
    const note = /^from the archive: older than the cube's 24 hours, complete through \d{4}-\d{2}-\d{2} \d{2}:\d{2}$/;
    for (const status of ["#series-status", "#top-status"]) {
      await eventually(`the archive's note in ${status}`, async () => note.test(await page.locator(status).textContent()));
      assert.equal(await page.locator(status).getAttribute("data-kind"), "archive");
    }
    assert.equal(
      await figure("total-count")(page),
      formatInteger(views.reduce((sum, minute) => sum + minute.count, 0)),
    );
    const origins = expectedTop(known.tags, "VIEW", "origin", "count", 10);
    await expectShown(
      page,
      "top origins from the archive",
      topTable,
      origins.rows.map((row, index) => [
        String(index + 1),
        row.value,
        formatInteger(row.count),
        formatInteger(row.sum_price),
        formatShare(row.count, origins.total.count),
      ]),
    );
    await page.screenshot({ path: path.join(SHOTS, "archive.png"), fullPage: true });

    // The cube, asked explicitly, has the same figures for the hour.
    const answer = await getJson(`${STACK.frontDoor}/v1/series?${hour}&action=VIEW&bucket=1h&source=cube`);
    assert.equal(answer.source, "cube");
    assert.equal(answer.points[0].count, views.reduce((sum, minute) => sum + minute.count, 0));
    assert.deepEqual(page.errors, []);
    await context.close();
  });
});
