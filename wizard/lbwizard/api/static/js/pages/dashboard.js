// The dashboard: both units of a pair, each virtual service with its servers' requested and actual state,
// weight, connections and check, refreshed live; charts of the last hour or day; diagnose's findings.

import { get } from "../api.js";
import { charts, rangeSwitch } from "../chart.js";
import { badge, cell, h, number, replace, table } from "../dom.js";

const STATUS_SECONDS = 5;
const SLOW_SECONDS = 30; // diagnose probes the servers, and samples change once a step

function unitsCard(pair) {
  if (!pair) return h("section", { class: "card", "aria-labelledby": "units-title" },
    h("h2", { id: "units-title", text: "This unit" }), h("p", { class: "note", text: "A single unit: not part of an HA pair." }));
  const sync = pair.in_sync === null ? badge("peer not asked", "unknown")
    : pair.in_sync ? badge("in sync", "ok") : badge(`peer behind by ${pair.peer_behind ?? "?"} version(s)`, "problem");
  return h("section", { class: "card", "aria-labelledby": "units-title" },
    h("div", { class: "row between" }, h("h2", { id: "units-title", text: "HA pair" }), sync),
    pair.split_brain?.length ? h("p", { class: "problems", text: `Split brain: both units hold ${pair.split_brain.join(", ")}` }) : null,
    table(["Unit", "Address", "Role", "VRRP", "Version", "Holds"], pair.units.map((unit) => h("tr", {},
      cell("Unit", [unit.hostname, unit.here ? " (this one)" : ""]),
      cell("Address", unit.address || "–"),
      cell("Role", unit.role),
      cell("VRRP", badge(unit.vrrp)),
      cell("Version", number(unit.config_version)),
      cell("Holds", unit.error ? h("span", { class: "problems", text: unit.error }) : unit.holds.join(", ") || "nothing")))));
}

function serverRows(service) {
  return service.servers.map((server) => h("tr", { dataset: { server: server.name } },
    cell("Server", [h("strong", { text: server.name }), " ", h("span", { class: "muted", text: server.endpoint })]),
    cell("Requested", badge(server.requested)),
    cell("Actual", badge(server.actual)),
    cell("Weight", number(server.weight), "num"),
    cell("Active", number(server.active), "num"),
    cell("Inactive", number(server.inactive), "num"),
    cell("Check", server.check || "–")));
}

function serviceCard(service, samples) {
  const layer = service.layer;
  return h("section", { class: "card", dataset: { service: service.name }, "aria-label": `virtual service ${service.name}` },
    h("div", { class: "row between" },
      h("h3", {}, h("a", { href: `#/services/${encodeURIComponent(service.name)}`, text: service.name }), " ",
        h("span", { class: "muted", text: `${service.endpoint} · layer ${layer} · ${service.forwarding} · ${service.scheduler}` })),
      h("span", { class: "muted", text: service.engine })),
    samples?.sampling ? charts(samples.series[service.name], layer, service.name) : null,
    service.servers.length
      ? table([{ label: "Server" }, "Requested", "Actual", { label: "Weight", num: true }, { label: "Active", num: true },
        { label: "Inactive", num: true }, "Check"], serverRows(service), "servers")
      : h("p", { class: "note", text: "No real server yet." }));
}

function findingsCard(findings) {
  const shown = findings.filter((f) => f.severity !== "ok");
  return h("section", { class: "card", "aria-labelledby": "findings-title" },
    h("h2", { id: "findings-title", text: "Diagnose" }),
    shown.length ? shown.map((f) => h("div", { class: `finding ${f.severity}` },
      h("div", {}, badge(f.severity), " ", h("strong", { text: f.subject }), " ", f.what),
      f.fix ? h("div", {}, h("strong", { text: "Fix: " }), f.fix) : null,
      f.proof ? h("div", { class: "muted" }, "Check: ", h("code", { text: f.proof })) : null))
      : h("p", { class: "note", text: "No problem found." }));
}

export async function dashboardPage(match, main) {
  let span = "hour";
  let samples = null;
  let findings = null;
  const units = h("div");
  const services = h("div", { id: "services" });
  const diagnose = h("div");
  const samplingNote = h("p", { class: "note" });
  const updated = h("span", { class: "muted", role: "status" });
  const switcher = h("div");
  const drawSwitch = () => replace(switcher, rangeSwitch(span, async (chosen) => {
    span = chosen;
    drawSwitch();
    await slow(false);
  }));
  drawSwitch();
  replace(main,
    h("div", { class: "row between" }, h("h1", { text: "Dashboard" }), updated),
    units,
    h("div", { class: "row between" }, h("h2", { text: "Virtual services" }), switcher),
    samplingNote, services, diagnose);

  let status = null;
  const draw = () => {
    if (!status) return;
    replace(units, unitsCard(status.pair));
    replace(services, status.services.length ? status.services.map((s) => serviceCard(s, samples))
      : h("p", { class: "note" }, "No virtual service yet: ", h("a", { href: "#/services/new", text: "add one" }), "."));
    replace(samplingNote, samples && !samples.sampling ? samples.note : "");
    if (findings) replace(diagnose, findingsCard(findings));
    else replace(diagnose, h("section", { class: "card" }, h("h2", { text: "Diagnose" }), h("p", { class: "note", role: "status", text: "Checking…" })));
    if (status.boot_problems?.length) services.prepend(h("p", { class: "problems", text: `At boot: ${status.boot_problems.join("; ")}` }));
  };
  const fast = async (auto = true) => {
    status = await get("/status", { auto });
    updated.textContent = `updated ${new Date().toLocaleTimeString()}`;
    draw();
  };
  const slow = async (auto = true) => {
    [samples, findings] = await Promise.all([get(`/samples?range=${span}`, { auto }), get("/diagnose", { auto })]);
    draw();
  };
  // the services first; diagnose (it probes every server on a unit) and the charts fill in when they come
  const later = slow(false).catch((error) => replace(diagnose, h("p", { class: "problems", text: error.message })));
  await fast(false);
  void later;
  const timers = [
    setInterval(() => fast().catch(() => {}), STATUS_SECONDS * 1000),
    setInterval(() => slow().catch(() => {}), SLOW_SECONDS * 1000),
  ];
  return () => timers.forEach(clearInterval);
}
