// Shopper: one cookie's newest views and buys (GET /v1/shoppers/{cookie}, the
// contract's profile answer) as a timeline, newest first, grouped by day (UTC), with a
// strip showing when they happened.

import { describe, getJson, isAbort, type ShopperAnswer, type Tag } from "./api";
import { byId, h, one, setFigure, setStatus } from "./dom";
import { formatClock, formatDay, formatInteger, formatMinute, fromInputTime, toApiTime, toInputTime, fromApiTime } from "./format";
import * as state from "./state";

const SVG = "http://www.w3.org/2000/svg";

let running: AbortController | null = null;

const form = () => byId<HTMLFormElement>("shopper-form");
const input = (name: string) => one<HTMLInputElement | HTMLSelectElement>(`[name="${name}"]`, form());

/** Wires the form and shows the cookie the query string names, if any. */
export function init(): void {
  const params = state.current();
  input("cookie").value = params.get("cookie") ?? "";
  const from = params.get("sfrom");
  const to = params.get("sto");
  if (from) input("from").value = toInputTime(fromApiTime(from));
  if (to) input("to").value = toInputTime(fromApiTime(to));
  const limit = params.get("slimit");
  if (limit && [...(input("limit") as HTMLSelectElement).options].some((option) => option.value === limit)) {
    input("limit").value = limit;
  }
  form().addEventListener("submit", (event) => {
    event.preventDefault();
    void load();
  });
  if (input("cookie").value) void load();
  else setStatus(byId("shopper-status"), "Enter a cookie to see its views and buys");
}

async function load(): Promise<void> {
  const cookie = input("cookie").value.trim();
  if (!cookie) return;
  const from = fromInputTime(input("from").value);
  const to = fromInputTime(input("to").value);
  const limit = input("limit").value;
  state.update({
    cookie,
    sfrom: Number.isFinite(from) ? toApiTime(from) : null,
    sto: Number.isFinite(to) ? toApiTime(to) : null,
    slimit: limit === "200" ? null : limit,
  });
  running?.abort();
  const controller = new AbortController();
  running = controller;
  const status = byId("shopper-status");
  setStatus(status, "loading…", "busy");
  try {
    const shopper = await getJson<ShopperAnswer>(
      `/v1/shoppers/${encodeURIComponent(cookie)}`,
      {
        from: Number.isFinite(from) ? toApiTime(from) : undefined,
        to: Number.isFinite(to) ? toApiTime(to) : undefined,
        limit,
      },
      controller.signal,
    );
    render(shopper, Number(limit));
    setStatus(status, "");
  } catch (error) {
    if (!isAbort(error)) setStatus(status, describe(error), "error");
  }
}

function render(shopper: ShopperAnswer, limit: number): void {
  byId("shopper-title").textContent = `Shopper ${shopper.cookie}`;
  const events = [...shopper.views, ...shopper.buys]
    .map((tag) => ({ tag, at: Date.parse(tag.time) }))
    .sort((a, b) => b.at - a.at || (a.tag.action === "BUY" ? -1 : 1));
  const spent = shopper.buys.reduce((sum, tag) => sum + Number(tag.product_info.price || 0), 0);
  const more = (count: number) => (count >= limit ? `${formatInteger(count)}+` : formatInteger(count));
  setFigure("shopper-views", more(shopper.views.length));
  setFigure("shopper-buys", more(shopper.buys.length));
  setFigure("shopper-spent", formatInteger(spent));
  const newest = events[0]?.at;
  const oldest = events[events.length - 1]?.at;
  setFigure(
    "shopper-span",
    newest === undefined || oldest === undefined ? "never" : span(oldest, newest),
  );
  drawStrip(events, oldest, newest);

  const timeline = byId("shopper-timeline");
  if (events.length === 0) {
    timeline.replaceChildren(h("li", { class: "empty" }, "No views or buys for this cookie in this range"));
    return;
  }
  const items: HTMLElement[] = [];
  let day = "";
  for (const { tag, at } of events) {
    const today = formatDay(at);
    if (today !== day) {
      day = today;
      items.push(h("li", { class: "day" }, today));
    }
    items.push(eventItem(tag, at));
  }
  timeline.replaceChildren(...items);
}

/** "2031-04-15 04:03 → 04:52", or with both dates when they differ. */
function span(oldest: number, newest: number): string {
  const [first, last] = [formatMinute(oldest), formatMinute(newest)];
  return first.slice(0, 10) === last.slice(0, 10) ? `${first} → ${last.slice(11)}` : `${first} → ${last}`;
}

function eventItem(tag: Tag, at: number): HTMLElement {
  const buy = tag.action === "BUY";
  const product = tag.product_info;
  return h(
    "li",
    { class: `event ${buy ? "buy" : "view"}`, "data-action": tag.action, "data-time": tag.time },
    h("time", { datetime: tag.time }, formatClock(at)),
    h("span", { class: "badge" }, buy ? "BUY" : "VIEW"),
    h(
      "span",
      { class: "product" },
      h("strong", {}, `#${product.product_id}`),
      ` ${product.brand_id} · ${product.category_id}`,
    ),
    h("span", { class: "price", "data-price": product.price }, formatInteger(Number(product.price))),
    h("span", { class: "meta" }, `${tag.origin} · ${tag.country} · ${tag.device}`),
  );
}

/** Dots on a time axis: views above, buys below. */
function drawStrip(events: { tag: Tag; at: number }[], oldest?: number, newest?: number): void {
  const strip = byId("shopper-strip");
  strip.replaceChildren();
  if (oldest === undefined || newest === undefined) return;
  const width = Math.max(320, strip.clientWidth || 1000);
  const left = 60;
  const right = 12;
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("viewBox", `0 0 ${width} 64`);
  const x = (at: number) =>
    newest === oldest ? (left + width - right) / 2 : left + ((at - oldest) / (newest - oldest)) * (width - left - right);
  const text = (content: string, y: number) => {
    const label = document.createElementNS(SVG, "text");
    label.setAttribute("x", "0");
    label.setAttribute("y", String(y));
    label.setAttribute("class", "strip-label");
    label.textContent = content;
    svg.append(label);
  };
  text("views", 24);
  text("buys", 50);
  for (const y of [20, 46]) {
    const line = document.createElementNS(SVG, "line");
    line.setAttribute("x1", String(left));
    line.setAttribute("x2", String(width - right));
    line.setAttribute("y1", String(y));
    line.setAttribute("y2", String(y));
    line.setAttribute("class", "strip-axis");
    svg.append(line);
  }
  for (const { tag, at } of events) {
    const dot = document.createElementNS(SVG, "circle");
    const buy = tag.action === "BUY";
    dot.setAttribute("cx", x(at).toFixed(1));
    dot.setAttribute("cy", buy ? "46" : "20");
    dot.setAttribute("r", buy ? "5" : "3.5");
    dot.setAttribute("class", buy ? "strip-buy" : "strip-view");
    svg.append(dot);
  }
  strip.append(svg);
}
