// Access: where management may come from, the ports opened for others, root's SSH keys and the API's tokens.

import { call, get } from "../api.js";
import { confirm } from "../change.js";
import { cell, h, replace, table } from "../dom.js";
import { change, list, smallForm } from "./parts.js";

export async function accessPage(match, main) {
  const [access, keys, tokens] = await Promise.all([get("/access"), get("/access/keys"), get("/tokens")]);
  const made = h("div", { role: "status" });
  replace(main,
    h("h1", { text: "Access" }),
    smallForm("Management networks", [
      { name: "networks", label: "networks (comma separated; empty: this unit's own subnets)", value: access.management_networks.join(", "),
        help: "SSH, this console and the API answer only these. A change that would cut you off is refused unless forced." },
      { name: "force", label: "even if it cuts off this session", type: "checkbox" },
    ], "Save networks", (v) => change("PUT", "/access/networks", { networks: list(v.networks), force: v.force }, "Management networks")),
    h("section", { class: "card" }, h("h2", { text: "Input rules" }),
      access.input_rules.length ? table(["#", "Port", "Protocol", "Source", "Comment", ""], access.input_rules.map((rule, index) => h("tr", {},
        cell("#", String(index + 1)), cell("Port", rule.port), cell("Protocol", rule.protocol), cell("Source", rule.source), cell("Comment", rule.comment || "–"),
        cell("", h("button", { type: "button", class: "small danger", text: "remove", onclick: async () => {
          if (await confirm(`Close ${rule.protocol}/${rule.port}?`, h("p", { text: `Clients from ${rule.source} can no longer reach this unit's ${rule.protocol} port ${rule.port}.` }), "Close it")) {
            await change("DELETE", `/access/rules/${index + 1}`, undefined, `Closing ${rule.protocol}/${rule.port}`).catch(() => {});
          }
        } }))))) : h("p", { class: "note", text: "No port opened besides the services and management." })),
    smallForm("Open a port", [
      { name: "port", label: "port(s)", help: 'e.g. 161 or "8000-8080, 9002"' },
      { name: "protocol", label: "protocol", type: "select", options: ["tcp", "udp"], value: "tcp" },
      { name: "source", label: "from", value: "any" },
      { name: "comment", label: "comment" },
    ], "Open", (v) => change("POST", "/access/rules", { ...v, port: /^[0-9]+$/.test(v.port) ? Number(v.port) : v.port }, `Opening ${v.protocol}/${v.port}`)),
    h("section", { class: "card" }, h("h2", { text: "Root's SSH keys" }),
      keys.length ? table(["Key", "Comment", ""], keys.map((key) => h("tr", {},
        cell("Key", h("code", { text: key.fingerprint || key.type || "" })), cell("Comment", key.comment || "–"),
        cell("", h("button", { type: "button", class: "small danger", text: "remove", onclick: async () => {
          if (await confirm("Remove this key?", h("p", { text: `${key.comment || key.fingerprint} may no longer log in as root over SSH.` }), "Remove")) {
            await change("DELETE", `/access/keys/${encodeURIComponent(key.fingerprint)}`, undefined, "Removing an SSH key").catch(() => {});
          }
        } }))))) : h("p", { class: "note", text: "No SSH key: root logs in at the console only." })),
    smallForm("Add an SSH key", [{ name: "key", label: "the line of a .pub file", type: "textarea" }], "Add the key",
      (v) => change("POST", "/access/keys", { key: v.key }, "Adding an SSH key")),
    h("section", { class: "card" }, h("h2", { text: "API tokens" }),
      tokens.length ? table(["Name", "Rights", "Made", ""], tokens.map((t) => h("tr", {},
        cell("Name", t.name), cell("Rights", t.read_only ? "read-only" : "read and change"), cell("Made", t.created),
        cell("", h("button", { type: "button", class: "small danger", text: "revoke", onclick: async () => {
          if (await confirm(`Revoke ${t.name}?`, h("p", { text: `Scripts using the token ${t.name} are refused from their next request.` }), "Revoke")) {
            await call("DELETE", `/tokens/${encodeURIComponent(t.name)}`);
            window.dispatchEvent(new HashChangeEvent("hashchange"));
          }
        } }))))) : h("p", { class: "note", text: "No API token." }), made),
    smallForm("Make an API token", [
      { name: "name", label: "name", help: "whose or what it is for, e.g. nms" },
      { name: "read_only", label: "read-only", type: "checkbox" },
    ], "Make the token", async (v) => {
      const token = await call("POST", "/tokens", { body: { name: v.name, read_only: v.read_only } });
      replace(made, h("div", { class: "success" },
        h("p", { text: `Token ${token.name} (${token.read_only ? "read-only" : "read and change"}), shown this once: copy it now.` }),
        h("p", { class: "token", text: token.token })));
    }));
}
