// The unit's own services: its clock's NTP servers, where its logs go, and the Prometheus endpoints.

import { get } from "../api.js";
import { h, replace } from "../dom.js";
import { change, list, smallForm } from "./parts.js";

export async function settingsPage(match, main) {
  const [time, logging, metrics] = await Promise.all([get("/time"), get("/logging"), get("/metrics")]);
  replace(main,
    h("h1", { text: "Time, logs and metrics" }),
    smallForm("Time", [
      { name: "ntp_servers", label: "NTP servers (comma separated; empty: none)", value: time.ntp_servers.join(", "), also: ["servers", "clock.ntp_servers"] },
    ], "Save", (v) => change("PUT", "/time", { ntp_servers: list(v.ntp_servers) }, "NTP servers")),
    smallForm("Logging", [
      { name: "syslog_server", label: "syslog server HOST[:PORT] (empty: the logs stay on the unit)", value: logging.syslog_server || "", also: ["server"] },
      { name: "syslog_protocol", label: "protocol", type: "select", options: ["udp", "tcp"], value: logging.syslog_protocol, also: ["protocol"] },
    ], "Save", (v) => change("PUT", "/logging", { syslog_server: v.syslog_server || null, syslog_protocol: v.syslog_protocol }, "Logging")),
    smallForm("Metrics", [
      { name: "enabled", label: `Prometheus endpoints on (now ${metrics.enabled ? "on" : "off"}; on ${metrics.addresses.join(", ")})`, type: "checkbox", value: metrics.enabled },
    ], "Save", (v) => change("PUT", "/metrics", { enabled: v.enabled }, `Metrics ${v.enabled ? "on" : "off"}`)),
    smallForm("Metrics ports", [
      { name: "node_port", label: "node exporter's port", value: String(metrics.node_port) },
      { name: "haproxy_port", label: "HAProxy's port", value: String(metrics.haproxy_port) },
    ], "Save ports", (v) => change("PUT", "/metrics", {
      node_port: /^[0-9]+$/.test(v.node_port) ? Number(v.node_port) : v.node_port,
      haproxy_port: /^[0-9]+$/.test(v.haproxy_port) ? Number(v.haproxy_port) : v.haproxy_port,
    }, "Metrics ports")));
}
