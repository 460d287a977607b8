// Certificates: the store lbctl cert keeps (what each is for, until when, which services present it). A PEM
// file is uploaded as it is (PUT, lbctl cert add --pem -) and judged whole by lbctl before anything changes;
// its problems are shown at the field they name. A removal asks first; the unit refuses one a service uses.

import { ApiError, get } from "../api.js";
import { confirm, runChange } from "../change.js";
import { cell, h, replace, table } from "../dom.js";
import { change, smallForm } from "./parts.js";

const PEM_MEDIA = "application/x-pem-file";
const path = (name) => `/certificates/${encodeURIComponent(name)}`;
const listed = (items) => (items && items.length ? items.join(", ") : "–");

function until(cert) {
  const date = (cert.not_after || "").slice(0, 10) || "–";
  if (cert.seconds_left === null || cert.seconds_left === undefined) return date;
  const days = Math.floor(cert.seconds_left / 86400);
  return `${date} (${cert.seconds_left < 0 ? "expired" : `${days} day${days === 1 ? "" : "s"} left`})`;
}

export async function certificatesPage(match, main) {
  const certificates = await get("/certificates");
  const shown = h("div", { id: "certificate-shown", "aria-live": "polite" });
  const refusal = h("div", { role: "alert" });
  replace(main,
    h("h1", { text: "Certificates" }),
    h("section", { class: "card" }, h("h2", { text: "The store" }), refusal,
      certificates.length ? table(["Name", "Subject", "Names (SANs)", "Issuer", "Not after", "Used by", ""],
        certificates.map((cert) => row(cert, shown, refusal)))
        : h("p", { class: "note", text: "No certificate in the store yet: upload one below." })),
    shown,
    smallForm("Upload a certificate", [
      { name: "name", label: "name", help: "how a TLS service names it, e.g. shop" },
      { name: "pem", label: "PEM file", type: "file", accept: ".pem,.crt,.key,application/x-pem-file", also: ["--pem", "body"],
        help: "the certificate, its chain (the nearest issuer first) and its unencrypted key, in one file" },
      { name: "replace", label: "replace the certificate of this name (services keep serving it, without a reload)", type: "checkbox" },
    ], "Upload", upload));
}

function row(cert, shown, refusal) {
  return h("tr", { dataset: { certificate: cert.name } },
    cell("Name", [cert.name, cert.acme ? [" ", h("span", { class: "badge ok", text: "ACME" })] : null]),
    cell("Subject", cert.problem ? h("span", { class: "badge problem", text: cert.problem }) : cert.subject),
    cell("Names (SANs)", listed(cert.names)), cell("Issuer", cert.issuer || "–"),
    cell("Not after", until(cert)), cell("Used by", listed(cert.used_by)),
    cell("", h("span", { class: "row" },
      h("button", { type: "button", class: "small", text: "show", onclick: () => show(cert.name, shown) }),
      h("button", { type: "button", class: "small danger", text: "remove", onclick: () => remove(cert, refusal) }))));
}

async function upload(values) {
  // what the API cannot be asked without (a name in its address, a body): said at the field, as it would say it
  const missing = [["name", "give the certificate a name"], ["pem", "choose the PEM file to upload"]].filter(([field]) => !values[field]);
  if (missing.length) {
    throw new ApiError(422, { detail: "nothing was sent", errors: missing.map(([field, message]) => ({ field, message })) });
  }
  await runChange("PUT", path(values.name) + (values.replace ? "?replace=yes" : ""), {
    raw: values.pem, rawType: PEM_MEDIA, title: `${values.replace ? "Replacing" : "Adding"} certificate ${values.name}`,
  });
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

async function show(name, shown) {
  const cert = await get(path(name));
  const facts = [["subject", cert.subject], ["names (SANs)", listed(cert.names)], ["issuer", cert.issuer],
    ["chain", listed(cert.chain)], ["not before", cert.not_before], ["not after", until(cert)], ["serial", cert.serial],
    ["key", cert.key], ["SHA-256 of its file", cert.fingerprint], ["used by", listed(cert.used_by)],
    ["ACME", cert.acme ? (typeof cert.acme === "object" ? JSON.stringify(cert.acme) : "yes") : "no"], ["problem", cert.problem]];
  replace(shown, h("section", { class: "card" }, h("h2", { text: `Certificate ${cert.name}` }),
    h("div", { class: "table-wrap" }, h("table", {}, h("tbody", {}, facts.filter(([, value]) => value !== null && value !== undefined)
      .map(([label, value]) => h("tr", {}, h("th", { scope: "row", text: label }), h("td", {}, h("code", { text: String(value) })))))))));
  shown.scrollIntoView({ block: "nearest" });
}

async function remove(cert, refusal) {
  replace(refusal);
  const users = cert.used_by && cert.used_by.length ? ` ${listed(cert.used_by)} present${cert.used_by.length === 1 ? "s" : ""} it: the unit refuses while a service does.` : "";
  if (!(await confirm(`Remove ${cert.name}?`, h("p", { text: `The certificate ${cert.name} (${cert.subject || "unreadable"}) and its key leave the store.${users}` }), "Remove"))) return;
  try {
    await change("DELETE", path(cert.name), undefined, `Removing certificate ${cert.name}`);
  } catch (error) {
    if (!(error instanceof ApiError)) throw error;
    replace(refusal, h("div", { class: "problems" }, h("strong", { text: "Nothing was removed. " }),
      error.errors.length ? error.errors.map((e) => e.message).join("; ") : error.message));
  }
}
