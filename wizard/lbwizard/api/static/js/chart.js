// Small charts as inline SVG, drawn here (no chart library): one line per series, gaps where nothing was
// sampled, the latest and the highest value in words beside it for people who read rather than look.

import { h } from "./dom.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 180;
const HEIGHT = 48;

function svg(tag, attributes = {}) {
  const element = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, String(value));
  return element;
}

export function amount(value, unit) {
  if (value === null || value === undefined) return "–";
  if (unit === "B/s") {
    const units = ["B/s", "kB/s", "MB/s", "GB/s"];
    let i = 0;
    while (value >= 1000 && i < units.length - 1) {
      value /= 1000;
      i += 1;
    }
    return `${value < 10 && i ? value.toFixed(1) : Math.round(value)} ${units[i]}`;
  }
  return `${value < 10 ? Math.round(value * 10) / 10 : Math.round(value)} ${unit}`;
}

// values: one number (or null) per step, oldest first.
export function chart(title, values, unit) {
  const known = values.filter((v) => v !== null && v !== undefined);
  const highest = Math.max(0, ...known);
  const top = highest > 0 ? highest * 1.1 : 1;
  const x = (i) => (values.length > 1 ? (i / (values.length - 1)) * WIDTH : 0);
  const y = (v) => HEIGHT - 2 - (v / top) * (HEIGHT - 4);
  const picture = svg("svg", { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", role: "img" });
  let line = "";
  let area = "";
  let run = [];
  const close = () => {
    if (run.length) {
      area += `M${run[0][0]},${HEIGHT} ` + run.map(([a, b]) => `L${a},${b}`).join(" ") + ` L${run[run.length - 1][0]},${HEIGHT} Z `;
    }
    run = [];
  };
  values.forEach((value, i) => {
    if (value === null || value === undefined) {
      close();
      return;
    }
    const point = [x(i).toFixed(1), y(value).toFixed(1)];
    line += `${run.length ? "L" : "M"}${point[0]},${point[1]} `;
    run.push(point);
  });
  close();
  if (area) picture.append(svg("path", { class: "area", d: area }));
  if (line) picture.append(svg("path", { class: "line", d: line }));
  const latest = known.length ? known[known.length - 1] : null;
  const said = known.length ? `${title}: now ${amount(latest, unit)}, highest ${amount(highest, unit)}` : `${title}: no samples`;
  picture.setAttribute("aria-label", said);
  const tooltip = svg("title");
  tooltip.textContent = said;
  picture.append(tooltip);
  return h("figure", { class: "chart", dataset: { title, highest: String(highest), samples: String(known.length) } },
    picture,
    h("figcaption", {}, h("span", { text: title }), h("span", { text: known.length ? `${amount(latest, unit)} (max ${amount(highest, unit)})` : "no samples" })));
}

// The three charts of one series (a service or a server) from /samples' columns.
export function charts(series, layer, key) {
  if (!series) return h("p", { class: "note", dataset: { series: key }, text: "no samples yet" });
  return h("div", { class: "charts", dataset: { series: key } },
    chart("connections", series.connections, "/s"),
    layer === 7 ? chart("requests", series.requests, "/s") : null,
    chart("bytes", series.bytes, "B/s"));
}

export function rangeSwitch(current, onChange) {
  return h("div", { class: "tabs", role: "group", "aria-label": "Charts over" },
    ["hour", "day"].map((span) => h("button", {
      type: "button", class: "small", "aria-pressed": String(span === current), text: `last ${span}`,
      onclick: () => onChange(span),
    })));
}
