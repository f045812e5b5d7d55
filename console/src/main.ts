// The console's entry: three views (Explore, Shopper, Ingest) behind tabs, the one
// shown named by ?view=. Each view is set up the first time it is shown; Ingest reads
// its figures only while it is shown.

import "./style.css";
import * as explore from "./explore";
import * as ingest from "./ingest";
import * as shopper from "./shopper";
import * as state from "./state";

const started = new Set<state.View>();
const setUp: Record<state.View, () => void> = {
  explore: explore.init,
  shopper: shopper.init,
  ingest: () => undefined,
};

function show(view: state.View): void {
  for (const section of document.querySelectorAll<HTMLElement>("main > .view")) {
    section.hidden = section.id !== `view-${view}`;
  }
  for (const tab of document.querySelectorAll<HTMLAnchorElement>(".tabs a")) {
    if (tab.dataset.view === view) tab.setAttribute("aria-current", "page");
    else tab.removeAttribute("aria-current");
  }
  document.title = `${view[0]?.toUpperCase()}${view.slice(1)} · Allezon Analytics`;
  if (!started.has(view)) {
    started.add(view);
    setUp[view]();
  }
  if (view === "ingest") ingest.start();
  else ingest.stop();
}

for (const tab of document.querySelectorAll<HTMLAnchorElement>(".tabs a")) {
  tab.addEventListener("click", (event) => {
    const view = tab.dataset.view as state.View;
    if (event.metaKey || event.ctrlKey || event.shiftKey) return;
    event.preventDefault();
    state.update({ view }, true);
    show(view);
  });
}
window.addEventListener("popstate", () => show(state.currentView()));
show(state.currentView());
