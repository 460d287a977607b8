// Virtual services: the list, one service's settings (new or edit) grouped as the references group them,
// and its real servers with drain / offline / online, each after a confirmation of what happens to open
// connections.

import { ApiError, get } from "../api.js";
import { charts, rangeSwitch } from "../chart.js";
import { confirm, runChange } from "../change.js";
import { badge, cell, h, number, replace, table } from "../dom.js";
import { SettingsForm, groupOf } from "../forms.js";
import { fields } from "../schema.js";

export const SERVICE_GROUPS = groupOf([
  ["Basic", ["name", "address", "port", "protocol", "layer", "forwarding", "extra_ports", "fwmark"]],
  ["Scheduling", ["scheduler", "scheduler_param", "agent_port", "response_weights"]],
  ["Persistence", ["persistence"]],
  ["Health checks", ["health_check", "sorry_server", "quorum"]],
  ["Advanced", "*"],
]);

const path = (name) => `/virtual-services/${encodeURIComponent(name)}`;

export async function servicesPage(match, main) {
  const list = await get("/virtual-services");
  const rows = list.map((s) => h("tr", { dataset: { service: s.name } },
    cell("Name", h("a", { href: `#/services/${encodeURIComponent(s.name)}`, text: s.name })),
    cell("Address", `${s.address}:${s.port}${s.extra_ports ? `, ${s.extra_ports}` : ""}`),
    cell("Layer", `${s.layer} (${s.protocol})`),
    cell("Forwarding", s.forwarding),
    cell("Scheduler", s.scheduler),
    cell("Servers", String(s.real_servers.length), "num"),
    cell("", h("button", { type: "button", class: "small danger", text: "Remove", onclick: () => removeService(s) }))));
  replace(main,
    h("div", { class: "row between" }, h("h1", { text: "Virtual services" }),
      h("a", { class: "button primary", href: "#/services/new", text: "Add a virtual service" })),
    list.length ? table(["Name", "Address", "Layer", "Forwarding", "Scheduler", { label: "Servers", num: true }, ""], rows, "servers")
      : h("p", { class: "note", text: "No virtual service yet." }));
}

async function removeService(service) {
  const ok = await confirm(`Remove ${service.name}?`,
    h("p", { text: `${service.name} (${service.address}:${service.port}) and its ${service.real_servers.length} real server(s) are removed; its clients get no answer from this unit any more. History keeps it: a rollback brings it back.` }),
    "Remove");
  if (!ok) return;
  try {
    await runChange("DELETE", path(service.name), { title: `Removing ${service.name}` });
  } catch { /* the window said why */ }
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

const STATE_WORDS = {
  drain: (s) => `New connections stop going to ${s} (its weight becomes 0); connections already open carry on until they end. It stays drained until you bring it online.`,
  offline: (s) => `${s} is taken out of service at once: no new connections, and connections open to it are cut (HAProxy shuts its sessions; at layer 4 it leaves the IPVS table). Clients that were connected must connect again.`,
  online: (s) => `${s} takes new connections again, with its configured weight.`,
};

export async function setState(service, server, state) {
  const ok = await confirm(`${state[0].toUpperCase()}${state.slice(1)} ${server}?`, h("p", { text: STATE_WORDS[state](server) }),
    state === "online" ? "Bring online" : state === "drain" ? "Drain" : "Take offline");
  if (!ok) return false;
  try {
    await runChange("PUT", `${path(service)}/real-servers/${encodeURIComponent(server)}/state`, { body: { state }, title: `${state}: ${server}` });
    return true;
  } catch {
    return false;
  }
}

function serversTable(service, status) {
  const actual = new Map((status?.servers || []).map((s) => [s.name, s]));
  const refresh = () => window.dispatchEvent(new HashChangeEvent("hashchange"));
  const rows = service.real_servers.map((server) => {
    const now = actual.get(server.name) || {};
    const act = (state) => h("button", { type: "button", class: "small", text: state, disabled: server.state === state,
      onclick: async () => { if (await setState(service.name, server.name, state)) refresh(); } });
    return h("tr", { dataset: { server: server.name } },
      cell("Server", h("a", { href: `#/services/${encodeURIComponent(service.name)}/servers/${encodeURIComponent(server.name)}`, text: server.name })),
      cell("Address", `${server.address}:${server.port}`),
      cell("Weight", String(server.weight), "num"),
      cell("Requested", badge(server.state)),
      cell("Actual", badge(now.actual || "unknown")),
      cell("Connections", number(now.active), "num"),
      cell("", h("span", { class: "row" }, act("drain"), act("offline"), act("online"),
        h("button", { type: "button", class: "small danger", text: "remove", onclick: async () => {
          if (await confirm(`Remove ${server.name}?`, h("p", { text: `${server.name} (${server.address}:${server.port}) leaves ${service.name}; connections open to it are cut.` }), "Remove")) {
            try { await runChange("DELETE", `${path(service.name)}/real-servers/${encodeURIComponent(server.name)}`, { title: `Removing ${server.name}` }); } catch { /* said */ }
            refresh();
          }
        } }))));
  });
  return rows.length
    ? table(["Server", "Address", { label: "Weight", num: true }, "Requested", "Actual", { label: "Connections", num: true }, ""], rows, "servers")
    : h("p", { class: "note", text: "No real server yet." });
}

const CHART_SECONDS = 10;

// The service's and each server's charts, drawn again every few seconds while the page is open.
function chartsSection(service) {
  let span = "hour";
  const body = h("div");
  const draw = async () => {
    const samples = await get(`/samples/${encodeURIComponent(service.name)}?range=${span}`, { auto: true });
    if (!samples.sampling) return replace(body, h("p", { class: "note", text: samples.note }));
    replace(body,
      rangeSwitch(span, (chosen) => { span = chosen; draw(); }),
      samples.note ? h("p", { class: "note", text: samples.note }) : null,
      h("h3", { text: service.name }), charts(samples.series[service.name], service.layer, service.name),
      service.real_servers.map((server) => [h("h3", { text: server.name }), charts(samples.series[`${service.name}/${server.name}`], service.layer, `${service.name}/${server.name}`)]));
  };
  const failed = (error) => replace(body, h("p", { class: "problems", text: error.message }));
  draw().catch(failed);
  const timer = setInterval(() => draw().catch(failed), CHART_SECONDS * 1000);
  const element = h("section", { class: "card", "aria-labelledby": "charts-title" }, h("h2", { id: "charts-title", text: "Traffic" }), body);
  return { element, stop: () => clearInterval(timer) };
}

export async function servicePage(name, main) {
  const isNew = name === null;
  const [schemaFields, service, status] = await Promise.all([
    fields(isNew ? "VirtualServiceNew" : "VirtualServiceChange"),
    isNew ? null : get(path(name)),
    isNew ? null : get("/status"),
  ]);
  const form = new SettingsForm(schemaFields, SERVICE_GROUPS, service);
  const save = h("button", { type: "submit", class: "primary", text: isNew ? "Add the virtual service" : "Save changes" });
  const element = h("form", { class: "settings", novalidate: true, "aria-label": isNew ? "new virtual service" : `settings of ${name}` },
    form.element, h("p", { class: "buttons" }, h("a", { class: "button", href: "#/services", text: "Cancel" }), save));
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
      await runChange(isNew ? "POST" : "PATCH", isNew ? "/virtual-services" : path(name), { body, title: isNew ? `Adding ${body.name || "a virtual service"}` : `Changing ${name}` });
      location.hash = `#/services/${encodeURIComponent(isNew ? body.name : name)}`;
      if (!isNew) window.dispatchEvent(new HashChangeEvent("hashchange"));
    } catch (error) {
      if (error instanceof ApiError && error.status === 422) form.showProblems(error.errors, error.message);
    } finally {
      save.disabled = false;
    }
  });
  const mine = status?.services.find((s) => s.name === name);
  const traffic = isNew ? null : chartsSection(service);
  replace(main,
    h("p", {}, h("a", { href: "#/services", text: "← Virtual services" })),
    h("h1", { text: isNew ? "New virtual service" : `Virtual service ${name}` }),
    mine ? h("p", { class: "muted", text: mine.engine }) : null,
    element,
    isNew ? null : h("section", { class: "card", "aria-labelledby": "servers-title" },
      h("div", { class: "row between" }, h("h2", { id: "servers-title", text: "Real servers" }),
        h("a", { class: "button primary", href: `#/services/${encodeURIComponent(name)}/servers/new`, text: "Add a real server" })),
      serversTable(service, mine)),
    traffic?.element);
  return traffic?.stop;
}
