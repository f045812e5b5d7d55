// Ingest: the services' own counters (GET /v1/ingest) read every few seconds while the
// view is shown. A rate is the change of a cumulative counter between the last two
// readings divided by the time between them (each reading says when it was taken); a
// counter that went down (a service restarted) gives no rate for that interval.
// Freshness and consumer lag are gauges: shown as read.

import { describe, getJson, type IngestAnswer } from "./api";
import { TimeChart } from "./chart";
import { byId, h, setFigure, setStatus } from "./dom";
import { formatClock, formatInteger, formatRate, formatSeconds } from "./format";
import * as state from "./state";

const DEFAULT_POLL_MS = 5000;
const MIN_POLL_MS = 500;
/** Points kept for the chart: ten minutes at the default interval. */
const HISTORY = 120;

type Counter = "tags_accepted" | "tags_rejected" | "tags_unavailable" | "rows_projected" | "queries_answered" | "queries_failed";

/** Each counter's figures on the page. */
const COUNTERS: [Counter, string][] = [
  ["tags_accepted", "accepted"],
  ["rows_projected", "projected"],
  ["tags_rejected", "rejected"],
  ["tags_unavailable", "unavailable"],
  ["queries_answered", "answered"],
  ["queries_failed", "failed"],
];

let chart: TimeChart | null = null;
let previous: IngestAnswer | null = null;
let timer: number | undefined;
let active = false;
/** Each start's number: a reading that arrives after a stop (or a later start) is dropped. */
let generation = 0;
const history: { at: number; accepted: number | null; projected: number | null }[] = [];

/** How often to read: `?poll=<ms>` or every 5 s. */
function pollMillis(): number {
  const asked = Number(state.current().get("poll"));
  return Number.isFinite(asked) && asked >= MIN_POLL_MS ? asked : DEFAULT_POLL_MS;
}

/** The per-second rate of `counter` between two readings, or null. */
export function rate(before: IngestAnswer, after: IngestAnswer, counter: Counter): number | null {
  const seconds = (after.sampled_at_ms - before.sampled_at_ms) / 1000;
  const change = after[counter] - before[counter];
  if (seconds <= 0 || change < 0) return null;
  return change / seconds;
}

/** Starts reading (when the view is shown). */
export function start(): void {
  if (active) return;
  active = true;
  generation += 1;
  chart ??= new TimeChart(byId("ingest-chart"), {
    height: 180,
    formatTime: (millis) => `${formatClock(millis).slice(0, 8)} UTC`,
    emptyText: "No tags accepted or projected while this page watched",
  });
  document.addEventListener("visibilitychange", onVisibility);
  void poll(generation);
}

/** Stops reading (the view is hidden); the next start begins with a fresh pair. */
export function stop(): void {
  active = false;
  generation += 1;
  window.clearTimeout(timer);
  document.removeEventListener("visibilitychange", onVisibility);
  previous = null;
}

function onVisibility(): void {
  if (!active) return;
  window.clearTimeout(timer);
  generation += 1;
  if (document.visibilityState === "visible") {
    previous = null;
    void poll(generation);
  }
}

async function poll(mine: number): Promise<void> {
  const every = pollMillis();
  const status = byId("ingest-status");
  try {
    const reading = await getJson<IngestAnswer>("/v1/ingest");
    if (mine !== generation) return;
    render(previous, reading, every);
    previous = reading;
    setStatus(status, `read at ${formatClock(reading.sampled_at_ms).slice(0, 8)} UTC`);
  } catch (error) {
    if (mine !== generation) return;
    setStatus(status, describe(error), "error");
  }
  if (document.visibilityState === "visible") {
    timer = window.setTimeout(() => void poll(mine), every);
  }
}

function render(before: IngestAnswer | null, after: IngestAnswer, every: number): void {
  for (const [counter, figure] of COUNTERS) {
    setFigure(`${figure}-total`, formatInteger(after[counter]));
    const perSecond = before ? rate(before, after, counter) : null;
    setFigure(`${figure}-rate`, perSecond === null ? "—" : formatRate(perSecond));
  }
  setFigure("freshness", after.freshness_seconds === null ? "—" : formatSeconds(after.freshness_seconds));
  setFigure("lag", after.consumer_lag === null ? "—" : formatInteger(after.consumer_lag));

  byId("ingest-peers").replaceChildren(
    ...after.peers.map((peer) =>
      h(
        "li",
        { class: peer.up ? "up" : "down", title: peer.url },
        h("span", { class: "dot" }),
        `${peer.service} ${peer.up ? "answering" : "not answering"}`,
      ),
    ),
    h("li", { class: "up" }, h("span", { class: "dot" }), "read-api answering"),
  );
  const interval = before ? ((after.sampled_at_ms - before.sampled_at_ms) / 1000).toFixed(1) : null;
  byId("ingest-explain").textContent =
    `Read every ${every / 1000} s from the services' metrics. A rate is the change of a counter ` +
    `between the last two readings divided by the time between them` +
    (interval ? ` (${interval} s).` : "; it shows from the second reading on.");

  if (before) {
    history.push({
      at: after.sampled_at_ms,
      accepted: rate(before, after, "tags_accepted"),
      projected: rate(before, after, "rows_projected"),
    });
    if (history.length > HISTORY) history.splice(0, history.length - HISTORY);
  }
  chart?.show(
    history.map((point) => point.at),
    [
      { label: "accepted /s", color: "#1f4ed8", format: formatRate, values: history.map((point) => point.accepted) },
      { label: "projected /s", color: "#0f8a5f", format: formatRate, values: history.map((point) => point.projected) },
    ],
  );
}
