// What the console's browser tests need around the browser: where the stack is, a
// Chromium launched the way this machine allows, tags sent through the front door, a
// read-api of the test's own (with API keys), and the expected figures computed from
// what was sent (an independent model, never from the API's answers).

import { spawn } from "node:child_process";
import { once } from "node:events";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");

/** The running stack (the Makefile's test environment sets these). */
export const STACK = {
  frontDoor: process.env.ALLEZON_URL ?? "http://127.0.0.1:8000",
  clickhouse: process.env.CLICKHOUSE_URL ?? "http://127.0.0.1:8123",
  peerMetrics: process.env.READ_API_PEER_METRICS,
  readApiBinary: process.env.READ_API_BIN ?? path.join(ROOT, "target", "release", "read-api"),
  chromium: process.env.CHROMIUM ?? "/usr/bin/chromium",
};

/** Where screenshots go: docs/console for `make console-screenshots`, else .stack. */
export const SHOTS = path.resolve(
  ROOT,
  process.env.CONSOLE_SCREENSHOTS ?? path.join(".stack", "console-test"),
);
mkdirSync(SHOTS, { recursive: true });

/**
 * Headless Debian Chromium. Without the background-networking flags it keeps trying
 * Google's hosts, and this machine's closed network refuses them. Playwright gives
 * each launch a new, empty profile directory.
 */
export async function launchBrowser() {
  return chromium.launch({
    executablePath: STACK.chromium,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** Resolves once `probe` returns something truthy, polling; fails after `timeoutMs`. */
export async function eventually(what, probe, { timeoutMs = 60_000, everyMs = 250 } = {}) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      const value = await probe();
      if (value) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}${last ? `: ${last.message}` : ""}`);
    }
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}

/** GET a JSON answer, failing on anything but 200. */
export async function getJson(url, headers = {}) {
  const response = await fetch(url, { headers });
  const text = await response.text();
  if (response.status !== 200) throw new Error(`${url}: ${response.status} ${text}`);
  return JSON.parse(text);
}

/**
 * POSTs every tag to the front door, `concurrency` at a time, and returns how many were
 * answered 503. Such a tag may still be stored later (the contract allows it), so it
 * is never resent: a caller that needs exact figures starts over elsewhere.
 */
export async function sendTags(tags, concurrency = 8) {
  let next = 0;
  let unavailable = 0;
  async function worker() {
    while (next < tags.length) {
      const tag = tags[next++];
      const response = await fetch(`${STACK.frontDoor}/user_tags`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(tag),
      });
      await response.arrayBuffer();
      if (response.status === 503) unavailable += 1;
      else if (response.status !== 204) throw new Error(`POST /user_tags answered ${response.status}`);
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker));
  return unavailable;
}

/** A free TCP port on loopback (bound, then released for the child to take). */
async function freePort() {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address();
  server.close();
  await once(server, "close");
  return port;
}

/**
 * A read-api of the test's own on a free port, with `keys`, against the stack's
 * ClickHouse, and `settings` (more environment variables). Returns its URL and a stop
 * function (SIGTERM to that child only).
 */
export async function startReadApi(keys, settings = {}) {
  const port = await freePort();
  const env = {
    ...process.env,
    READ_API_LISTEN: `127.0.0.1:${port}`,
    READ_API_KEYS: keys,
    CLICKHOUSE_URL: STACK.clickhouse,
    RUST_LOG: "warn",
    ...settings,
  };
  if (STACK.peerMetrics) env.READ_API_PEER_METRICS = STACK.peerMetrics;
  const child = spawn(STACK.readApiBinary, [], { env, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await eventually(
      "the test's read-api",
      async () => {
        if (child.exitCode !== null) throw new Error(`exited ${child.exitCode}: ${stderr}`);
        return (await fetch(`${url}/health`)).status === 200;
      },
      { timeoutMs: 20_000 },
    );
  } catch (error) {
    child.kill("SIGTERM");
    throw error;
  }
  return {
    url,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

// --- The known data --------------------------------------------------------------

const MINUTE = 60_000;
export const ORIGINS = ["SPRING_SALE", "NEWSLETTER", "SEARCH_ADS", "SOCIAL", "RETARGETING"];
const ORIGIN_WEIGHTS = [8, 5, 4, 2, 1];
const BRANDS = ["Nordic_Home", "Ebros_Gift", "Acme_Sports", "Lumen", "Vela"];
const CATEGORIES = ["Shoes___Accessories", "Kitchen", "Garden", "Toys"];
const COUNTRIES = ["PL", "DE", "FR", "CL", "US"];
const COUNTRY_WEIGHTS = [6, 4, 3, 2, 1];
const DEVICES = ["PC", "MOBILE", "TV"];
const DEVICE_WEIGHTS = [5, 6, 1];

/** A seeded generator (mulberry32): the same data shape every run. */
function generator(seed) {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function weighted(random, values, weights) {
  const total = weights.reduce((sum, weight) => sum + weight, 0);
  let pick = random() * total;
  for (let index = 0; index < values.length; index++) {
    pick -= weights[index];
    if (pick < 0) return values[index];
  }
  return values[values.length - 1];
}

/** A run's own names: cookies nobody else sends. */
export function runId() {
  return `ct${randomBytes(4).toString("hex")}`;
}

/**
 * An hour of traffic from `start` (ms, a whole minute): views rising and falling
 * around 30 a minute, buys every minute, over five origins, brands, four categories,
 * five countries and three devices; and one shopper, "alice", with a known history.
 */
export function knownHour(start, run) {
  const random = generator(20310501);
  const tags = [];
  const tag = (millis, action, cookie, fields) => ({
    time: new Date(millis).toISOString(),
    cookie,
    country: fields.country,
    device: fields.device,
    action,
    origin: fields.origin,
    product_info: {
      product_id: fields.product,
      brand_id: fields.brand,
      category_id: fields.category,
      price: fields.price,
    },
  });
  const randomFields = () => ({
    origin: weighted(random, ORIGINS, ORIGIN_WEIGHTS),
    brand: BRANDS[Math.floor(random() * BRANDS.length)],
    category: CATEGORIES[Math.floor(random() * CATEGORIES.length)],
    country: weighted(random, COUNTRIES, COUNTRY_WEIGHTS),
    device: weighted(random, DEVICES, DEVICE_WEIGHTS),
    product: 10_000 + Math.floor(random() * 5000),
    price: 500 + 50 * Math.floor(random() * 390),
  });
  for (let minute = 0; minute < 60; minute++) {
    const views = 26 + Math.round(14 * Math.sin((minute / 60) * 2 * Math.PI - 0.6)) + (minute % 4);
    const buys = 1 + (minute % 3 === 0 ? 2 : 0) + (minute % 7 === 0 ? 1 : 0);
    for (let index = 0; index < views + buys; index++) {
      const millis = start + minute * MINUTE + Math.floor(random() * MINUTE);
      const cookie = `${run}-shopper-${Math.floor(random() * 400)}`;
      tags.push(tag(millis, index < views ? "VIEW" : "BUY", cookie, randomFields()));
    }
  }
  const alice = `${run}-alice`;
  const aliceTags = [
    [3, 12_345, "VIEW", "Nordic_Home", "Kitchen", 4_990],
    [7, 2_000, "VIEW", "Nordic_Home", "Kitchen", 7_450],
    [12, 40_500, "VIEW", "Vela", "Shoes___Accessories", 12_900],
    [19, 5_250, "BUY", "Nordic_Home", "Kitchen", 7_450],
    [26, 31_000, "VIEW", "Acme_Sports", "Garden", 2_300],
    [34, 9_999, "VIEW", "Vela", "Shoes___Accessories", 12_900],
    [41, 15_001, "BUY", "Vela", "Shoes___Accessories", 12_900],
    [52, 500, "VIEW", "Lumen", "Toys", 1_850],
  ].map(([minute, offset, action, brand, category, price], index) =>
    tag(start + minute * MINUTE + offset, action, alice, {
      origin: index < 4 ? "NEWSLETTER" : "SOCIAL",
      brand,
      category,
      country: "PL",
      device: index % 2 ? "MOBILE" : "PC",
      product: 20_000 + index,
      price,
    }),
  );
  return { tags: [...tags, ...aliceTags], alice, aliceTags };
}

/** Per-minute count and revenue of `tags` of `action` passing `keep`, from `start`. */
export function minuteTotals(tags, start, action, minutes, keep = () => true) {
  const totals = Array.from({ length: minutes }, () => ({ count: 0, sum_price: 0 }));
  for (const tag of tags) {
    if (tag.action !== action || !keep(tag)) continue;
    const minute = Math.floor((Date.parse(tag.time) - start) / MINUTE);
    if (minute < 0 || minute >= minutes) continue;
    totals[minute].count += 1;
    totals[minute].sum_price += tag.product_info.price;
  }
  return totals;
}

/** Sums consecutive groups of `width` buckets. */
export function rebucket(totals, width) {
  const out = [];
  for (let index = 0; index < totals.length; index += width) {
    const group = totals.slice(index, index + width);
    out.push({
      count: group.reduce((sum, bucket) => sum + bucket.count, 0),
      sum_price: group.reduce((sum, bucket) => sum + bucket.sum_price, 0),
    });
  }
  return out;
}

/** The expected top-N: by `by` descending, ties by value (as read-api ranks). */
export function expectedTop(tags, action, dimension, by, limit, keep = () => true) {
  const read = (tag) =>
    ["brand_id", "category_id"].includes(dimension) ? tag.product_info[dimension] : tag[dimension];
  const rows = new Map();
  for (const tag of tags) {
    if (tag.action !== action || !keep(tag)) continue;
    const value = read(tag);
    const row = rows.get(value) ?? { value, count: 0, sum_price: 0 };
    row.count += 1;
    row.sum_price += tag.product_info.price;
    rows.set(value, row);
  }
  const ranked = [...rows.values()].sort(
    (a, b) => b[by] - a[by] || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0),
  );
  const total = [...rows.values()].reduce(
    (sum, row) => ({ count: sum.count + row.count, sum_price: sum.sum_price + row.sum_price }),
    { count: 0, sum_price: 0 },
  );
  return { rows: ranked.slice(0, limit), total };
}

// --- How the page formats (console/src/format.ts) --------------------------------

const integer = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const oneDecimal = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });

export const formatInteger = (value) => integer.format(value);
export const formatRate = (value) => (Math.abs(value) < 100 ? oneDecimal.format(value) : integer.format(value));
export const formatSeconds = (value) => (value < 0.1 ? value.toFixed(2) : oneDecimal.format(value));
export const formatShare = (part, whole) => `${oneDecimal.format((100 * part) / whole)}%`;
/** "2031-05-01 10:05" */
export const formatMinute = (millis) => new Date(millis).toISOString().slice(0, 16).replace("T", " ");
/** The API's time: "2031-05-01T10:05:00" */
export const apiTime = (millis) => new Date(millis).toISOString().slice(0, 19);
