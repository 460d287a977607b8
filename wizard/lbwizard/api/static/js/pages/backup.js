// Backup and restore: this unit in one file, and a file made real again after its checks are shown.

import { ApiError, call } from "../api.js";
import { confirm, runChange } from "../change.js";
import { h, replace } from "../dom.js";

export async function backupPage(match, main) {
  const hostKeys = h("input", { type: "checkbox", id: "host-keys" });
  const download = h("button", { type: "button", class: "primary", text: "Download a backup", onclick: async () => {
    // fetched with the session, then handed to the browser as a file (the address never carries a secret)
    const response = await call("GET", `/backup${hostKeys.checked ? "?host_keys=yes" : ""}`, { blob: true });
    const name = (response.headers.get("content-disposition") || "").match(/filename="([^"]+)"/)?.[1] || "unit.lbbackup";
    const link = h("a", { href: URL.createObjectURL(await response.blob()), download: name });
    document.body.append(link);
    link.click();
    setTimeout(() => { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
  } });
  const file = h("input", { type: "file", id: "restore-file", accept: ".lbbackup,application/octet-stream" });
  const report = h("div", { "aria-live": "polite" });
  const check = h("button", { type: "button", text: "Check the file", onclick: async () => {
    if (!file.files.length) return replace(report, h("p", { class: "problems", text: "Choose a backup file first." }));
    const data = await file.files[0].arrayBuffer();
    const found = await call("POST", "/restore/check", { raw: data });
    showCheck(report, found, data);
  } });
  replace(main,
    h("h1", { text: "Backup and restore" }),
    h("section", { class: "card" }, h("h2", { text: "Backup" }),
      h("p", { text: "The configuration, its history, certificates and keys in one file. It holds secrets (private keys, the password hash): keep it where only administrators can read it." }),
      h("p", {}, h("label", { for: "host-keys" }, hostKeys, " with the SSH host keys (a reinstalled unit keeps its SSH identity)")),
      h("p", { class: "buttons" }, download)),
    h("section", { class: "card" }, h("h2", { text: "Restore" }),
      h("p", { text: "The file is checked first, and what it would change is shown; nothing changes until you confirm." }),
      h("div", { class: "field" }, h("label", { for: "restore-file", text: "backup file" }), file),
      h("p", { class: "buttons" }, check), report));
}

function showCheck(report, found, data) {
  if (!found.backup) return replace(report, h("div", { class: "problems" }, h("strong", { text: "Refused: " }), found.refusals.join("; ")));
  const held = found.backup;
  const restore = h("button", { type: "button", class: "primary", text: "Restore this backup", disabled: !found.ok, onclick: async () => {
    if (!(await confirm("Restore this backup?", h("p", { text: `This unit becomes ${held.describe}. One change: if any step fails, everything is undone.` }), "Restore"))) return;
    try {
      await runChange("POST", "/restore", { raw: data, title: "Restoring the backup" });
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) replace(report, h("div", { class: "problems", text: error.message }));
    }
  } });
  replace(report,
    h("div", { class: found.ok ? "success" : "problems" },
      h("p", {}, h("strong", { text: found.ok ? "This backup can be restored. " : "This backup would be refused. " }), held.describe),
      found.refusals.length ? h("ul", {}, found.refusals.map((r) => h("li", { text: r }))) : null),
    h("p", { text: `It holds ${held.services} virtual service(s) with ${held.real_servers} real server(s), ${held.versions} version(s) of history.` }),
    h("h3", { text: "What it changes" }),
    found.changes.length ? h("ul", {}, found.changes.map((c) => h("li", {}, h("code", { text: c.path }), `: ${JSON.stringify(c.from)} → ${JSON.stringify(c.to)}`)))
      : h("p", { class: "note", text: "Its configuration is the current one." }),
    h("p", { class: "buttons" }, restore));
}
