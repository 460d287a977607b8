// History: every version with when, who, from where and why; the difference of any two; a rollback only
// after a confirmation that shows what it changes.

import { get } from "../api.js";
import { confirm, diffView, runChange } from "../change.js";
import { cell, h, replace, table } from "../dom.js";

function changesList(difference) {
  if (!difference.changes.length) return h("p", { class: "note", text: "The two versions are the same." });
  return h("ul", {}, difference.changes.map((c) => h("li", {}, h("code", { text: c.path }), `: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`)));
}

export async function historyPage(match, main) {
  const rows = await get("/history");
  const current = rows.find((r) => r.current)?.version ?? rows[rows.length - 1]?.version;
  const newestFirst = [...rows].reverse();
  const output = h("section", { id: "difference", "aria-live": "polite" });
  const pick = (name, version, checked) => h("input", { type: "radio", name, value: String(version), checked, "aria-label": `${name} version ${version}` });
  const body = newestFirst.map((row, index) => h("tr", { dataset: { version: String(row.version) } },
    cell("From", pick("from", row.version, index === 1)),
    cell("To", pick("to", row.version, index === 0)),
    cell("Version", [String(row.version), row.current ? " (current)" : ""], "num"),
    cell("Saved", row.saved),
    cell("Who", `${row.by}, ${row.via}`),
    cell("Command", h("code", { text: row.command })),
    cell("Message", row.message || "–"),
    cell("", row.current ? "" : h("button", { type: "button", class: "small", text: "Roll back to this", onclick: () => rollBack(row.version, current) }))));
  const compare = h("button", { type: "button", class: "primary", text: "Show the difference", onclick: async () => {
    const from = main.querySelector('input[name="from"]:checked')?.value;
    const to = main.querySelector('input[name="to"]:checked')?.value;
    if (!from || !to) return;
    const difference = await get(`/history/${from}/diff/${to}`);
    replace(output, h("h2", { text: `From version ${from} to ${to}` }), changesList(difference), difference.diff ? diffView(difference.diff) : null);
  } });
  replace(main,
    h("h1", { text: "History" }),
    h("p", { class: "note", text: "Every saved version: pick two to compare, or roll back to one (itself a new version)." }),
    table([{ label: "From" }, "To", { label: "Version", num: true }, "Saved", "Who and where", "Command", "Message", ""], body, "servers"),
    h("p", { class: "buttons" }, compare),
    output);
}

async function rollBack(version, current) {
  const difference = await get(`/history/${current}/diff/${version}`);
  const ok = await confirm(`Roll back to version ${version}?`, [
    h("p", { text: `This applies version ${version} again, as a new version. What changes from the current version ${current}:` }),
    changesList(difference),
    difference.diff ? diffView(difference.diff) : null,
  ], "Roll back");
  if (!ok) return;
  try {
    await runChange("POST", "/rollback", { body: { version }, title: `Rolling back to version ${version}` });
  } catch { /* the window said why */ }
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}
