// A few DOM helpers: the console is small enough for plain DOM and no framework.

/** The element with `id`, which the page must have. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element as T;
}

/** The first element matching `selector` within `root`, which must exist. */
export function one<T extends Element = HTMLElement>(selector: string, root: ParentNode = document): T {
  const element = root.querySelector<T>(selector);
  if (!element) throw new Error(`the page has no ${selector}`);
  return element;
}

type Child = Node | string | number | null | undefined | false;

/** Creates `<tag>` with attributes (`class`, `data-*`, ...) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes: Record<string, string | number | boolean | undefined> = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === false) continue;
    element.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === "number" ? String(child) : child);
  }
  return element;
}

/** Sets the text of every `[data-figure=name]` within `root`. */
export function setFigure(name: string, text: string, root: ParentNode = document): void {
  for (const element of root.querySelectorAll<HTMLElement>(`[data-figure="${name}"]`)) {
    element.textContent = text;
  }
}

/** Shows a panel's status: a message, marked as an error or not. */
export function setStatus(element: HTMLElement, text: string, kind: "info" | "error" | "busy" | "archive" = "info"): void {
  element.textContent = text;
  element.dataset.kind = kind;
}
