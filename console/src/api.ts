// The analysts' API the console reads (/v1/, described at /v1/openapi.json). Requests
// go to this page's own origin: when read-api asks for a key, the browser's Basic
// login for /console is reused for them (same origin, same realm).

/** One bucket of a series. */
export interface SeriesPoint {
  start: string;
  count: number;
  sum_price: number;
}

/** GET /v1/series */
export interface SeriesAnswer {
  action: string;
  bucket: string;
  from: string;
  to: string;
  points: SeriesPoint[];
  /** `cube` (the last 24 hours of ingestion) or `archive` (every tag, for older ranges). */
  source: "cube" | "archive";
  /** From the archive: every tag received before this instant is in it. */
  archived_through: string | null;
}

/** One ranked value of a top-N. */
export interface TopRow {
  value: string;
  count: number;
  sum_price: number;
}

/** GET /v1/top */
export interface TopAnswer {
  action: string;
  dimension: string;
  by: string;
  from: string;
  to: string;
  rows: TopRow[];
  total: { count: number; sum_price: number };
  /** As in SeriesAnswer. */
  source: "cube" | "archive";
  /** As in SeriesAnswer. */
  archived_through: string | null;
}

/** A tag exactly as its sender sent it (the contract's profile answer). */
export interface Tag {
  time: string;
  cookie: string;
  country: string;
  device: string;
  action: string;
  origin: string;
  product_info: {
    product_id: number | string;
    brand_id: string;
    category_id: string;
    price: number;
  };
}

/** GET /v1/shoppers/{cookie}: newest first. */
export interface ShopperAnswer {
  cookie: string;
  views: Tag[];
  buys: Tag[];
}

/** GET /v1/ingest: cumulative counters and current gauges. */
export interface IngestAnswer {
  sampled_at_ms: number;
  tags_accepted: number;
  tags_rejected: number;
  tags_unavailable: number;
  rows_projected: number;
  freshness_seconds: number | null;
  consumer_lag: number | null;
  queries_answered: number;
  queries_failed: number;
  peers: { service: string; url: string; up: boolean }[];
}

/** GET /v1/newest */
export interface NewestAnswer {
  action: string | null;
  before: string | null;
  minute: string | null;
}

/** An answer other than 200, with the API's message and the parameter at fault. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly parameter?: string,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** What to tell the user. */
  describe(): string {
    switch (this.status) {
      case 400:
        return this.parameter ? `${this.parameter}: ${this.message}` : this.message;
      case 401:
        return "an API key is needed: reload the page to sign in (any user name, the key as password)";
      case 503:
        return "ClickHouse is busy or unreachable; try again";
      default:
        return `${this.status}: ${this.message}`;
    }
  }
}

export type Params = Record<string, string | number | undefined | null>;

/** GET `path` on this origin with `params` (empty ones left out), as JSON. */
export async function getJson<T>(path: string, params: Params = {}, signal?: AbortSignal): Promise<T> {
  // location.origin never carries user:password, which fetch() would refuse.
  const url = new URL(path, location.origin);
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") {
      url.searchParams.set(name, String(value));
    }
  }
  const response = await fetch(url, {
    signal,
    credentials: "same-origin",
    headers: { accept: "application/json" },
  });
  if (!response.ok) {
    let message = response.statusText || "request failed";
    let parameter: string | undefined;
    try {
      const body = (await response.json()) as { error?: string; parameter?: string };
      message = body.error ?? message;
      parameter = body.parameter;
    } catch {
      // not JSON (nginx's own error page, say): keep the status text
    }
    throw new ApiError(response.status, message, parameter);
  }
  return (await response.json()) as T;
}

/** Whether `error` is the abort of a superseded request (not worth showing). */
export function isAbort(error: unknown): boolean {
  return error instanceof DOMException && error.name === "AbortError";
}

/** The user-facing text of any failure. */
export function describe(error: unknown): string {
  if (error instanceof ApiError) return error.describe();
  if (error instanceof Error) return error.message;
  return String(error);
}
