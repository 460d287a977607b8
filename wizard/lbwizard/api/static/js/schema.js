// Forms' fields from the API's own OpenAPI document: each setting's type, choices, range, pattern, default
// and help come from the declarations the server validates with. The API has the last word on save.

import { BASE } from "./api.js";

let documentPromise = null;

export function openapi() {
  documentPromise ||= fetch(BASE + "/openapi.json", { credentials: "same-origin" }).then((r) => r.json());
  return documentPromise;
}

function resolve(doc, schema) {
  while (schema && schema.$ref) schema = doc.components.schemas[schema.$ref.split("/").pop()];
  return schema || {};
}

// One setting as a form takes it: how it is typed in and how it becomes JSON again.
function describe(doc, path, schema, required) {
  let nullable = false;
  let options = null;
  let kind = "text";
  let alternatives = [schema];
  const flat = [];
  while (alternatives.length) {
    const next = resolve(doc, alternatives.shift());
    if (next.anyOf) alternatives.push(...next.anyOf);
    else flat.push(next);
  }
  const types = [];
  let bounds = {};
  for (const alternative of flat) {
    if (alternative.type === "null") nullable = true;
    else if (alternative.enum) {
      options = [...(options || []), ...alternative.enum];
      types.push("enum");
    } else {
      types.push(alternative.type);
      bounds = { ...bounds, ...alternative };
    }
  }
  if (types.length === 1 && types[0] === "enum") kind = "enum";
  else if (types.length === 1 && types[0] === "boolean") kind = "boolean";
  else if (types.length === 1 && types[0] === "integer") kind = "integer";
  else if (types.length === 1 && types[0] === "array") kind = "list";
  else if (types.includes("integer") && (types.includes("string") || types.includes("enum"))) kind = "text-or-integer";
  return {
    path,
    name: path.split(".").pop(),
    kind,
    options,
    nullable,
    required,
    default: schema.default,
    help: schema.description || "",
    minimum: bounds.minimum,
    maximum: bounds.maximum,
    pattern: bounds.pattern,
    maxLength: bounds.maxLength,
  };
}

// The fields of a request body's schema, nested objects (persistence, health_check) by their dotted path.
export async function fields(schemaName) {
  const doc = await openapi();
  const body = resolve(doc, doc.components.schemas[schemaName]);
  const found = [];
  for (const [name, schema] of Object.entries(body.properties || {})) {
    const required = (body.required || []).includes(name);
    const alternatives = schema.anyOf || [schema];
    const object = alternatives.map((s) => resolve(doc, s)).find((s) => s.type === "object" && s.properties);
    if (object) {
      const nullable = alternatives.some((s) => resolve(doc, s).type === "null");
      for (const [inner, innerSchema] of Object.entries(object.properties)) {
        const field = { ...describe(doc, `${name}.${inner}`, innerSchema, false), part: name, partNullable: nullable };
        if (nullable && inner === "mode") field.nullable = true; // "none": the part is left out
        found.push(field);
      }
    } else {
      found.push(describe(doc, name, schema, required));
    }
  }
  return found;
}

// What the schema alone can say about a value as typed (the API says more, and last, on save).
export function localProblem(field, text) {
  if (text === "" || text === null || text === undefined) {
    return field.required ? "required" : null;
  }
  if (field.kind === "integer") {
    if (!/^-?[0-9]+$/.test(text)) return "a whole number is expected";
    const value = Number(text);
    if (field.minimum !== undefined && value < field.minimum) return `at least ${field.minimum}`;
    if (field.maximum !== undefined && value > field.maximum) return `at most ${field.maximum}`;
    return null;
  }
  if (field.kind === "text" && typeof text === "string") {
    if (field.maxLength !== undefined && text.length > field.maxLength) return `at most ${field.maxLength} characters`;
    if (field.pattern && !new RegExp(field.pattern).test(text)) return "not in the form this setting takes";
  }
  return null;
}

// The JSON value of what was typed: numbers as numbers, "" as null where the setting may be cleared.
export function valueOf(field, text) {
  if (field.kind === "boolean") return Boolean(text);
  if (text === "" || text === undefined) return field.nullable ? null : undefined;
  if (field.kind === "integer") return /^-?[0-9]+$/.test(text) ? Number(text) : text;
  if (field.kind === "text-or-integer") return /^[0-9]+$/.test(text) ? Number(text) : text;
  if (field.kind === "enum") {
    const option = (field.options || []).find((o) => String(o) === text);
    return option === undefined ? text : option;
  }
  if (field.kind === "list") return text.split(",").map((s) => s.trim()).filter(Boolean);
  return text;
}

export function textOf(field, value) {
  if (value === null || value === undefined) return "";
  if (field.kind === "list") return value.join(", ");
  return String(value);
}
