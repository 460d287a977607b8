// Building the page from data without HTML strings: text is always text (no markup from the API is ever
// parsed), and handlers are attached in code (the Content-Security-Policy allows no inline script).

export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") element.className = value;
    else if (key === "text") element.textContent = value;
    else if (key.startsWith("on")) element.addEventListener(key.slice(2).toLowerCase(), value);
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

export function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

export function replace(element, ...children) {
  element.replaceChildren();
  return append(element, children);
}

export function badge(text, kind = text) {
  return h("span", { class: `badge ${kind}`, text });
}

export function number(value) {
  return value === null || value === undefined ? "–" : String(value);
}

export function table(headers, rows, className = "") {
  return h("div", { class: "table-wrap" },
    h("table", { class: className },
      h("thead", {}, h("tr", {}, headers.map((head) => h("th", { scope: "col", class: head.num ? "num" : "", text: head.label ?? head })))),
      h("tbody", {}, rows)));
}

export function cell(label, content, className = "") {
  return h("td", { "data-label": label, class: className }, content);
}
