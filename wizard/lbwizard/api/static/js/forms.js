// A settings form from the schema's fields, grouped as the references group them. As one types, the schema's
// own limits are checked; on save the API's answer is what counts: each of its problems is shown at its field
// (422 errors[].field), and anything it names that is not a field here is shown above the form.

import { h, replace } from "./dom.js";
import { localProblem, textOf, valueOf } from "./schema.js";

let serial = 0;

function label(field) {
  return field.path.replaceAll("_", " ").replace(".", ": ");
}

function input(field, id, text) {
  const common = { id, name: field.path, "aria-describedby": `${id}-help ${id}-error` };
  if (field.kind === "boolean") return h("input", { ...common, type: "checkbox", checked: text === "true" });
  if (field.kind === "enum") {
    const choices = field.nullable ? ["", ...field.options] : field.options;
    return h("select", common, choices.map((option) =>
      h("option", { value: String(option), selected: String(option) === text, text: option === "" ? "none" : String(option) })));
  }
  const listId = field.kind === "text-or-integer" && field.options ? `${id}-choices` : null;
  return h("input", {
    ...common,
    type: "text",
    value: text,
    inputmode: field.kind === "integer" ? "numeric" : null,
    autocomplete: "off",
    spellcheck: "false",
    required: field.required,
    list: listId,
  });
}

// The name an API problem gives its field, as this form names it: virtual_services[1].port -> port.
export function fieldName(name) {
  return String(name)
    .replace(/^virtual_services\[[^\]]*\]\.?/, "")
    .replace(/^real_servers\[[^\]]*\]\.?/, "")
    .replace(/^--/, "")
    .replaceAll("-", "_");
}

export class SettingsForm {
  // fields: schema.fields(); groups: [[title, predicate(field)]]; values: the setting's current values (edit)
  constructor(fields, groups, values = null, options = {}) {
    this.fields = fields.filter((f) => !(options.skip || []).includes(f.path));
    this.values = values;
    this.controls = new Map();
    this.initial = new Map();
    this.summary = h("div", { role: "alert" });
    const placed = new Set();
    const sections = groups.map(([title, wanted], index) => {
      const mine = this.fields.filter((f) => !placed.has(f.path) && wanted(f));
      mine.forEach((f) => placed.add(f.path));
      if (!mine.length) return null;
      const body = h("div", { class: "fields" }, mine.map((f) => this.fieldBlock(f)));
      if (index === 0) return h("fieldset", {}, h("legend", { text: title }), body);
      return h("details", { class: "group", dataset: { group: title } }, h("summary", { text: title }), body);
    });
    this.element = h("div", {}, this.summary, sections);
  }

  current(field) {
    if (!this.values) return field.default;
    if (field.part) {
      const part = this.values[field.part];
      return part === null || part === undefined ? (field.partNullable ? null : field.default) : part[field.name];
    }
    return this.values[field.path];
  }

  fieldBlock(field) {
    const id = `f${++serial}`;
    const value = this.current(field);
    const text = field.kind === "boolean" ? String(Boolean(value)) : textOf(field, value);
    const control = input(field, id, text);
    const error = h("p", { class: "error", id: `${id}-error` });
    const choices = field.kind === "text-or-integer" && field.options
      ? h("datalist", { id: `${id}-choices` }, field.options.map((o) => h("option", { value: String(o) })))
      : null;
    this.controls.set(field.path, { field, control, error });
    this.initial.set(field.path, this.read1(field.path));
    control.addEventListener("input", () => this.checkLocally(field.path));
    const title = h("label", { for: id, text: label(field) + (field.required ? " *" : "") });
    const help = h("p", { class: "help", id: `${id}-help`, text: field.help });
    return h("div", { class: "field", dataset: { field: field.path } },
      field.kind === "boolean" ? h("label", { for: id }, control, " ", label(field)) : [title, control], choices, help, error);
  }

  read1(path) {
    const { field, control } = this.controls.get(path);
    return field.kind === "boolean" ? control.checked : control.value.trim();
  }

  checkLocally(path) {
    const { field } = this.controls.get(path);
    const problem = field.kind === "boolean" ? null : localProblem(field, this.read1(path));
    this.mark(path, problem);
  }

  mark(path, message) {
    const entry = this.controls.get(path);
    if (!entry) return false;
    entry.error.textContent = message || "";
    if (message) entry.control.setAttribute("aria-invalid", "true");
    else entry.control.removeAttribute("aria-invalid");
    if (message) {
      const details = entry.control.closest("details");
      if (details) details.open = true;
    }
    return true;
  }

  clearProblems() {
    for (const path of this.controls.keys()) this.mark(path, null);
    replace(this.summary);
  }

  // The API's problems, each at its field; the rest above the form. Focus goes to the first one.
  showProblems(errors, detail) {
    this.clearProblems();
    const elsewhere = [];
    let first = null;
    for (const { field, message } of errors) {
      const path = fieldName(field);
      if (this.mark(path, message)) first ||= this.controls.get(path).control;
      else elsewhere.push(`${field}: ${message}`);
    }
    const lines = elsewhere.length ? elsewhere : errors.length ? [] : [detail];
    replace(this.summary, h("div", { class: "problems" },
      h("strong", { text: "Nothing was changed." }), " ",
      errors.length ? `${errors.length} setting(s) to correct${lines.length ? ":" : "; see each field."}` : "",
      lines.length ? h("ul", {}, lines.map((line) => h("li", { text: line }))) : null));
    (first || this.summary).focus?.();
  }

  // The JSON body: every field typed (a new thing), or only what changed (an edit), nested parts as objects.
  body({ changedOnly = false } = {}) {
    const body = {};
    const parts = new Map();
    for (const [path, { field }] of this.controls) {
      const text = this.read1(path);
      if (changedOnly && text === this.initial.get(path)) continue;
      if (!changedOnly && text === "" && field.kind !== "boolean") continue;
      const value = valueOf(field, text);
      if (value === undefined) continue;
      if (field.part) {
        if (!parts.has(field.part)) parts.set(field.part, {});
        parts.get(field.part)[field.name] = value;
      } else {
        body[path] = value;
      }
    }
    for (const [part, values] of parts) body[part] = values;
    // a part that may be absent (persistence) is absent when its mode says none: cleared in an edit, left out when new
    for (const [path, { field }] of this.controls) {
      if (!field.part || !field.partNullable || field.name !== "mode" || this.read1(path) !== "") continue;
      if (changedOnly && this.initial.get(path) === "") delete body[field.part];
      else if (changedOnly) body[field.part] = null;
      else delete body[field.part];
    }
    return body;
  }
}

export function groupOf(table) {
  return table.map(([title, names]) => [title, names === "*" ? () => true : (f) => names.some((n) => f.path === n || f.path.startsWith(`${n}.`))]);
}
