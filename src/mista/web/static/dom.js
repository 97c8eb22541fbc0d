// Building the page's elements. Text from the node always goes in as text (never as HTML),
// so a vessel name or marking cannot inject markup.

/** A new element: `el("td", {className: "x"}, "text", child...)`. */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node[name] = value;
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

/** A security marking, styled by its level (the text before the first "//"). */
export function marking(text, testId) {
  const level = String(text || "").split("//")[0].toLowerCase();
  return el("span", {
    className: `marking marking-${level || "none"}`,
    title: "Security label of this item",
    dataset: testId ? { testid: testId } : undefined,
  }, text || "no marking");
}

/** A definition table of [name, value] rows, skipping empty values. */
export function facts(rows) {
  return el("dl", { className: "facts" },
    rows
      .filter(([, value]) => value !== null && value !== undefined && value !== "")
      .flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
}

/** "2016-01-10 14:05:03Z" for an ISO time (or a Date); "" for none. */
export function utc(time) {
  if (!time) return "";
  const date = time instanceof Date ? time : new Date(time);
  if (Number.isNaN(date.getTime())) return String(time);
  return date.toISOString().replace("T", " ").replace(/\.\d+Z$/, "Z");
}

export function fixed(value, digits, unit) {
  return value === null || value === undefined ? "" : `${Number(value).toFixed(digits)}${unit}`;
}
