// The page's state lives in its query string (?view=explore&range=1h&action=BUY...), so
// a view can be bookmarked, shared and reloaded as it is.

export type View = "explore" | "shopper" | "ingest";

const VIEWS: readonly View[] = ["explore", "shopper", "ingest"];

/** The current query string. */
export function current(): URLSearchParams {
  return new URLSearchParams(location.search);
}

/** The view the query string names (Explore by default). */
export function currentView(): View {
  const view = current().get("view");
  return VIEWS.find((known) => known === view) ?? "explore";
}

/**
 * Sets (or, for empty values, removes) query parameters. `push` adds a history entry
 * (changing view); otherwise the current entry is replaced (changing a control).
 */
export function update(changes: Record<string, string | number | null | undefined>, push = false): void {
  const params = current();
  for (const [name, value] of Object.entries(changes)) {
    if (value === null || value === undefined || value === "") params.delete(name);
    else params.set(name, String(value));
  }
  // ':' needs no escaping in a query string, and times read better without it.
  const search = params.toString().replace(/%3A/gi, ":");
  const url = `${location.pathname}${search ? `?${search}` : ""}`;
  if (push) history.pushState(null, "", url);
  else history.replaceState(null, "", url);
}
