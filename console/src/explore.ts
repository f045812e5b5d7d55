// Explore: one range of event time, one action and optional filters, shown as a series
// (GET /v1/series, count or revenue per bucket) and a top-N (GET /v1/top). A preset
// range ends at the newest minute that has data (GET /v1/newest), not at the clock:
// the data may be a replay, or a benchmark of another day.

import { getJson, describe, isAbort, type NewestAnswer, type SeriesAnswer, type TopAnswer } from "./api";
import { TimeChart } from "./chart";
import { byId, h, one, setFigure, setStatus } from "./dom";
import {
  formatInteger,
  formatMinute,
  formatShare,
  formatSpan,
  fromApiTime,
  fromInputTime,
  toApiTime,
  toInputTime,
} from "./format";
import * as state from "./state";

const MINUTE = 60_000;
const PRESETS: Record<string, number> = {
  "15m": 15 * MINUTE,
  "1h": 60 * MINUTE,
  "6h": 6 * 60 * MINUTE,
  "24h": 24 * 60 * MINUTE,
  "7d": 7 * 24 * 60 * MINUTE,
};
const DEFAULT_PRESET = "1h";
const FILTERS = ["origin", "brand_id", "category_id", "country", "device"] as const;
const DIMENSION_NAMES: Record<string, string> = {
  origin: "Origin",
  brand_id: "Brand",
  category_id: "Category",
  country: "Country",
  device: "Device",
};
const BUCKET_NAMES: Record<string, string> = { "1m": "minute", "5m": "5 minutes", "1h": "hour" };
const BUCKET_SECONDS: Record<string, number> = { "1m": 60, "5m": 300, "1h": 3600 };
const COLORS = { VIEW: "#1f4ed8", BUY: "#0f8a5f" } as const;

/** The range shown: a preset (ending at the newest data) or one the user chose. */
interface Range {
  from: number;
  to: number;
  preset: string | null;
}

let range: Range | null = null;
let chart: TimeChart;
let running: AbortController | null = null;
let topRunning: AbortController | null = null;

const form = () => byId<HTMLFormElement>("explore-form");
const topForm = () => byId<HTMLFormElement>("top-form");

/** Wires the controls and shows what the query string asks for. */
export function init(): void {
  chart = new TimeChart(byId("series-chart"), {
    height: 300,
    emptyText: "No tags of this action and filters in this range",
    onSelect: (from, to) => {
      // The buckets dragged across: from the one nearest the start to the one nearest
      // the end, both included.
      const width = (BUCKET_SECONDS[checked("bucket")] ?? 60) * 1000;
      const first = Math.round(from / width) * width;
      const last = Math.max(first, Math.round(to / width) * width);
      setRange({ from: first, to: last + width, preset: null });
      void load();
    },
  });
  restoreControls();
  form().addEventListener("change", (event) => {
    const target = event.target as HTMLInputElement;
    if (target.name === "from" || target.name === "to") {
      const from = fromInputTime(one<HTMLInputElement>('[name="from"]', form()).value);
      const to = fromInputTime(one<HTMLInputElement>('[name="to"]', form()).value);
      if (!Number.isFinite(from) || !Number.isFinite(to)) {
        setStatus(byId("series-status"), "times are YYYY-MM-DD HH:MM, in UTC", "error");
        return;
      }
      if (from >= to) {
        setStatus(byId("series-status"), "From must be before To", "error");
        return;
      }
      setRange({ from, to, preset: null });
    }
    saveControls();
    void load();
  });
  form().addEventListener("submit", (event) => event.preventDefault());
  // Enter in a filter applies it at once (the form has no submit button).
  form().addEventListener("keydown", (event) => {
    const target = event.target;
    if (event.key === "Enter" && target instanceof HTMLInputElement && target.type === "text") {
      event.preventDefault();
      target.dispatchEvent(new Event("change", { bubbles: true }));
    }
  });
  for (const button of form().querySelectorAll<HTMLButtonElement>("[data-range]")) {
    button.addEventListener("click", () => void choosePreset(button.dataset.range ?? DEFAULT_PRESET));
  }
  byId("explore-refresh").addEventListener("click", () => {
    if (range?.preset) void choosePreset(range.preset);
    else void load();
  });
  byId("clear-filters").addEventListener("click", () => {
    for (const name of FILTERS) field(name).value = "";
    saveControls();
    void load();
  });
  topForm().addEventListener("change", () => {
    saveControls();
    void loadTop();
  });
  topForm().addEventListener("submit", (event) => event.preventDefault());
  byId("top-table").addEventListener("click", (event) => {
    const row = (event.target as HTMLElement).closest<HTMLTableRowElement>("tr[data-value]");
    if (!row) return;
    const dimension = topControl("dimension").value;
    field(dimension).value = row.dataset.value ?? "";
    saveControls();
    void load();
  });
  void start();
}

/** The range from the query string, or the default preset. */
async function start(): Promise<void> {
  const params = state.current();
  const from = params.get("from");
  const to = params.get("to");
  if (from && to && fromApiTime(from) < fromApiTime(to)) {
    setRange({ from: fromApiTime(from), to: fromApiTime(to), preset: null });
    await load();
    return;
  }
  await choosePreset(params.get("range") ?? DEFAULT_PRESET);
}

/** A preset range ending at the newest minute with data. */
async function choosePreset(preset: string): Promise<void> {
  const span = PRESETS[preset] ?? PRESETS[DEFAULT_PRESET] ?? 60 * MINUTE;
  setStatus(byId("series-status"), "finding the newest data…", "busy");
  let end: number;
  try {
    end = (await newestMinute()) + MINUTE;
  } catch (error) {
    setStatus(byId("series-status"), describe(error), "error");
    return;
  }
  setRange({ from: end - span, to: end, preset: PRESETS[preset] ? preset : DEFAULT_PRESET });
  await load();
}

/**
 * The start of the newest minute with tags, not after the clock's minute; a stream
 * dated ahead of the clock (a test's, say) is used only when nothing is older. With no
 * data at all, the clock's minute.
 */
async function newestMinute(): Promise<number> {
  const now = Date.now();
  const bounded = await getJson<NewestAnswer>("/v1/newest", { before: toApiTime(now + MINUTE) });
  const minute = bounded.minute ?? (await getJson<NewestAnswer>("/v1/newest")).minute;
  return minute ? fromApiTime(minute) : Math.floor(now / MINUTE) * MINUTE;
}

function setRange(next: Range): void {
  range = next;
  field("from").value = toInputTime(next.from);
  field("to").value = toInputTime(next.to);
  for (const button of form().querySelectorAll<HTMLButtonElement>("[data-range]")) {
    button.classList.toggle("active", button.dataset.range === next.preset);
  }
  state.update(
    next.preset
      ? { range: next.preset, from: null, to: null }
      : { range: null, from: toApiTime(next.from), to: toApiTime(next.to) },
  );
}

function field(name: string): HTMLInputElement | HTMLSelectElement {
  return one<HTMLInputElement | HTMLSelectElement>(`[name="${name}"]`, form());
}

function topControl(name: string): HTMLSelectElement {
  return one<HTMLSelectElement>(`[name="${name}"]`, topForm());
}

function checked(name: string): string {
  return one<HTMLInputElement>(`[name="${name}"]:checked`, form()).value;
}

function check(name: string, value: string | null): void {
  if (!value) return;
  const input = form().querySelector<HTMLInputElement>(`[name="${name}"][value="${CSS.escape(value)}"]`);
  if (input) input.checked = true;
}

function select(control: HTMLSelectElement, value: string | null): void {
  if (value && [...control.options].some((option) => option.value === value)) control.value = value;
}

/** Controls from the query string. */
function restoreControls(): void {
  const params = state.current();
  check("action", params.get("action"));
  check("metric", params.get("metric"));
  check("bucket", params.get("bucket"));
  for (const name of FILTERS) {
    const value = params.get(name);
    if (name === "device") select(field(name) as HTMLSelectElement, value);
    else if (value !== null) field(name).value = value;
  }
  select(topControl("dimension"), params.get("dim"));
  select(topControl("by"), params.get("by"));
  select(topControl("limit"), params.get("limit"));
}

/** Controls into the query string. */
function saveControls(): void {
  const filters: Record<string, string> = {};
  for (const name of FILTERS) filters[name] = field(name).value.trim();
  state.update({
    action: checked("action"),
    metric: checked("metric"),
    bucket: checked("bucket"),
    ...filters,
    dim: topControl("dimension").value,
    by: topControl("by").value,
    limit: topControl("limit").value,
  });
}

/** What the series and the top-N share: range, action, filters. */
function commonParams(): Record<string, string> {
  if (!range) throw new Error("no range yet");
  const params: Record<string, string> = {
    from: toApiTime(range.from),
    to: toApiTime(range.to),
    action: checked("action"),
  };
  for (const name of FILTERS) {
    const value = field(name).value.trim();
    if (value) params[name] = value;
  }
  return params;
}

/** Reloads both panels. */
async function load(): Promise<void> {
  await Promise.all([loadSeries(), loadTop()]);
}

async function loadSeries(): Promise<void> {
  if (!range) return;
  running?.abort();
  const controller = new AbortController();
  running = controller;
  const status = byId("series-status");
  setStatus(status, "loading…", "busy");
  const action = checked("action");
  const metric = checked("metric");
  const bucket = checked("bucket");
  try {
    const series = await getJson<SeriesAnswer>(
      "/v1/series",
      { ...commonParams(), bucket },
      controller.signal,
    );
    renderSeries(series, action, metric);
    setStatus(status, sourceNote(series), series.source === "archive" ? "archive" : "info");
  } catch (error) {
    if (!isAbort(error)) setStatus(status, describe(error), "error");
  }
}

/** Says when an answer came from the archive (a range older than the cube's 24 hours). */
function sourceNote(answer: { source: string; archived_through: string | null }): string {
  if (answer.source !== "archive") return "";
  const through = answer.archived_through ? `, complete through ${formatMinute(fromApiTime(answer.archived_through))}` : "";
  return `from the archive: older than the cube's 24 hours${through}`;
}

function renderSeries(series: SeriesAnswer, action: string, metric: string): void {
  const actionName = action === "BUY" ? "Buys" : "Views";
  const bucketName = BUCKET_NAMES[series.bucket] ?? series.bucket;
  const revenue = metric === "sum_price";
  byId("series-title").textContent = revenue
    ? `Revenue of ${actionName.toLowerCase()} per ${bucketName}`
    : `${actionName} per ${bucketName}`;
  byId("total-count-label").textContent = actionName;
  byId("peak-label").textContent = revenue ? "Peak revenue per bucket" : "Peak per bucket";

  const times = series.points.map((point) => fromApiTime(point.start));
  const values = series.points.map((point) => (revenue ? point.sum_price : point.count));
  chart.show(times, [
    {
      label: revenue ? "Revenue" : actionName,
      color: COLORS[action === "BUY" ? "BUY" : "VIEW"],
      format: formatInteger,
      values,
    },
  ]);

  const totalCount = series.points.reduce((sum, point) => sum + point.count, 0);
  const totalRevenue = series.points.reduce((sum, point) => sum + point.sum_price, 0);
  let peak = 0;
  values.forEach((value, index) => {
    if (value > (values[peak] ?? 0)) peak = index;
  });
  const from = fromApiTime(series.from);
  const to = fromApiTime(series.to);
  setFigure("total-count", formatInteger(totalCount));
  setFigure("total-revenue", formatInteger(totalRevenue));
  setFigure("peak", values.length ? formatInteger(values[peak] ?? 0) : "—");
  setFigure("peak-at", values.length && (values[peak] ?? 0) > 0 ? `at ${formatMinute(times[peak] ?? 0)}` : "");
  setFigure("buckets", formatInteger(series.points.length));
  setFigure("range", `${formatMinute(from)} → ${formatMinute(to).slice(11)} · ${formatSpan(to - from)}`);

  const body = one("tbody", byId("series-table"));
  body.replaceChildren(
    ...series.points.map((point) =>
      h(
        "tr",
        { "data-start": point.start },
        h("td", {}, formatMinute(fromApiTime(point.start))),
        h("td", {}, formatInteger(point.count)),
        h("td", {}, formatInteger(point.sum_price)),
      ),
    ),
  );
}

async function loadTop(): Promise<void> {
  if (!range) return;
  topRunning?.abort();
  const controller = new AbortController();
  topRunning = controller;
  const status = byId("top-status");
  setStatus(status, "loading…", "busy");
  try {
    const top = await getJson<TopAnswer>(
      "/v1/top",
      {
        ...commonParams(),
        dimension: topControl("dimension").value,
        by: topControl("by").value,
        limit: topControl("limit").value,
      },
      controller.signal,
    );
    renderTop(top);
    setStatus(status, sourceNote(top), top.source === "archive" ? "archive" : "info");
  } catch (error) {
    if (!isAbort(error)) setStatus(status, describe(error), "error");
  }
}

function renderTop(top: TopAnswer): void {
  byId("top-value-heading").textContent = DIMENSION_NAMES[top.dimension] ?? top.dimension;
  const byRevenue = top.by === "sum_price";
  const whole = byRevenue ? top.total.sum_price : top.total.count;
  const body = one("tbody", byId("top-table"));
  if (top.rows.length === 0) {
    body.replaceChildren(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "No tags of this action and filters in this range")));
    return;
  }
  body.replaceChildren(
    ...top.rows.map((row, index) => {
      const part = byRevenue ? row.sum_price : row.count;
      const share = whole > 0 ? (100 * part) / whole : 0;
      const bar = h("span", { class: "share-bar" });
      bar.style.width = `${share.toFixed(2)}%`;
      return h(
        "tr",
        { "data-value": row.value, title: `Filter by ${row.value || "(empty)"}` },
        h("td", { class: "rank" }, index + 1),
        h("td", { class: "value" }, row.value === "" ? h("em", {}, "(empty)") : row.value),
        h("td", {}, formatInteger(row.count)),
        h("td", {}, formatInteger(row.sum_price)),
        h("td", { class: "share-col" }, h("span", { class: "share" }, bar, h("span", { class: "share-text" }, formatShare(part, whole)))),
      );
    }),
  );
}
