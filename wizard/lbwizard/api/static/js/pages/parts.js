// Small forms of the unit's own settings (access, time, logging, metrics, tokens): a few fields each, sent
// as the API takes them, every problem shown at its field.

import { ApiError } from "../api.js";
import { runChange } from "../change.js";
import { h, replace } from "../dom.js";

let serial = 0;

// fields: [{name, label, type: "text"|"checkbox"|"select"|"textarea"|"file", options, accept, help, value, also: [lbctl's names]}]
export function smallForm(title, fields, submitLabel, send) {
  const errors = new Map();
  const controls = new Map();
  const summary = h("div", { role: "alert" });
  const blocks = fields.map((f) => {
    const id = `p${++serial}`;
    const error = h("p", { class: "error", id: `${id}-error` });
    const common = { id, name: f.name, "aria-describedby": `${id}-error` };
    const control = f.type === "checkbox" ? h("input", { ...common, type: "checkbox", checked: Boolean(f.value) })
      : f.type === "select" ? h("select", common, f.options.map((o) => h("option", { value: o, selected: o === f.value, text: o })))
        : f.type === "textarea" ? h("textarea", { ...common, rows: 3, spellcheck: "false", text: f.value || "" })
          : f.type === "file" ? h("input", { ...common, type: "file", accept: f.accept })
            : h("input", { ...common, type: "text", value: f.value ?? "", autocomplete: "off", spellcheck: "false" });
    errors.set(f.name, { error, control });
    for (const name of f.also || []) errors.set(name, { error, control }); // lbctl's own name for it
    controls.set(f.name, control);
    return h("div", { class: "field" },
      f.type === "checkbox" ? h("label", { for: id }, control, " ", f.label) : [h("label", { for: id, text: f.label }), control],
      f.help ? h("p", { class: "help", text: f.help }) : null, error);
  });
  const submit = h("button", { type: "submit", class: "primary", text: submitLabel });
  const form = h("form", { "aria-label": title }, summary, h("div", { class: "fields" }, blocks), h("p", { class: "buttons" }, submit));
  const values = () => Object.fromEntries([...controls].map(([name, c]) => [name, c.type === "checkbox" ? c.checked : c.type === "file" ? c.files[0] || null : c.value.trim()]));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    for (const { error, control } of errors.values()) {
      error.textContent = "";
      control.removeAttribute("aria-invalid");
    }
    replace(summary);
    submit.disabled = true;
    try {
      await send(values());
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      const elsewhere = [];
      for (const { field, message } of error.errors) {
        // access.input_rules[1].port -> port: the setting's own name, as this form names it
        const entry = errors.get(field) || errors.get(String(field).split(".").pop().replace(/\[.*$/, ""));
        if (entry) {
          entry.error.textContent = message;
          entry.control.setAttribute("aria-invalid", "true");
        } else elsewhere.push(`${field}: ${message}`);
      }
      if (error.status === 422 || error.status === 403) {
        replace(summary, h("div", { class: "problems" }, h("strong", { text: "Nothing was changed. " }),
          elsewhere.length ? elsewhere.join("; ") : error.errors.length ? "See the fields below." : error.message));
      }
    } finally {
      submit.disabled = false;
    }
  });
  return h("section", { class: "card" }, h("h2", { text: title }), form);
}

export const list = (text) => text.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

export async function change(method, path, body, title) {
  await runChange(method, path, { body, title });
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}
