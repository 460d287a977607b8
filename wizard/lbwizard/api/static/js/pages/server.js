// One real server: add or edit it (its settings from the schema, as lbctl rs add/set takes them).

import { ApiError, get } from "../api.js";
import { runChange } from "../change.js";
import { h, replace } from "../dom.js";
import { SettingsForm, groupOf } from "../forms.js";
import { fields } from "../schema.js";

const GROUPS = groupOf([
  ["Basic", ["address", "port", "name", "weight"]],
  ["Advanced", "*"],
]);

export async function serverPage(serviceName, serverName, main) {
  const isNew = serverName === null;
  const base = `/virtual-services/${encodeURIComponent(serviceName)}/real-servers`;
  const [schemaFields, server, service] = await Promise.all([
    fields(isNew ? "RealServerNew" : "RealServerChange"),
    isNew ? null : get(`${base}/${encodeURIComponent(serverName)}`),
    get(`/virtual-services/${encodeURIComponent(serviceName)}`),
  ]);
  const form = new SettingsForm(schemaFields, GROUPS, server);
  const save = h("button", { type: "submit", class: "primary", text: isNew ? "Add the real server" : "Save changes" });
  const back = `#/services/${encodeURIComponent(serviceName)}`;
  const element = h("form", { class: "settings", novalidate: true, "aria-label": isNew ? "new real server" : `settings of ${serverName}` },
    form.element, h("p", { class: "buttons" }, h("a", { class: "button", href: back, text: "Cancel" }), save));
  element.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = form.body({ changedOnly: !isNew });
    form.clearProblems();
    if (!isNew && !Object.keys(body).length) {
      form.showProblems([], "Nothing to save: no setting was changed.");
      return;
    }
    save.disabled = true;
    try {
      await runChange(isNew ? "POST" : "PATCH", isNew ? base : `${base}/${encodeURIComponent(serverName)}`,
        { body, title: isNew ? `Adding ${body.address} to ${serviceName}` : `Changing ${serverName}` });
      location.hash = back;
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) form.showProblems(error.errors, error.message);
    } finally {
      save.disabled = false;
    }
  });
  replace(main,
    h("p", {}, h("a", { href: back, text: `← ${serviceName}` })),
    h("h1", { text: isNew ? `New real server for ${serviceName}` : `Real server ${serverName} of ${serviceName}` }),
    element,
    !isNew && (service.layer === 4 || service.transparent) ? scripts(`${base}/${encodeURIComponent(serverName)}/script`) : null);
}

const SYSTEMS = [["linux", "Linux (.sh)", "sh"], ["windows", "Windows 2012 and later (.ps1)", "ps1"], ["windows-2003", "Windows Server 2003 (.cmd)", "cmd"]];

// The setup its forwarding method needs on the server itself (ARP, the VIP, its gateway), as a file to run there.
function scripts(path) {
  const said = h("p", { role: "status" });
  const download = async (system, extension) => {
    const found = await get(`${path}?os=${system}`);
    const name = `${found.file}${system === "windows-2003" ? "-2003" : ""}.${extension}`;
    const link = h("a", { href: URL.createObjectURL(new Blob([found.script], { type: "text/plain" })), download: name });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    said.textContent = `${name} downloaded: run it on the server as root (or Administrator); --undo takes it back.`;
  };
  return h("section", { class: "card", "aria-labelledby": "scripts-title" },
    h("h2", { id: "scripts-title", text: "Setup script for this server" }),
    h("p", { class: "note", text: "What this forwarding method needs on the server itself (ARP, the VIP, its gateway)." }),
    h("p", { class: "row" }, SYSTEMS.map(([system, label, extension]) =>
      h("button", { type: "button", text: label, onclick: () => download(system, extension).catch((e) => { said.textContent = e.message; }) }))),
    said);
}
