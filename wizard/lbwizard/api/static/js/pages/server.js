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
  const [schemaFields, server] = await Promise.all([
    fields(isNew ? "RealServerNew" : "RealServerChange"),
    isNew ? null : get(`${base}/${encodeURIComponent(serverName)}`),
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
    element);
}
