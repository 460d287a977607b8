// The console's frame: log in, the menu, and one page at a time by the address's #/path. A page is a
// function that fills <main> and may return a stop function (its live refresh) called when one leaves it.

import * as api from "./api.js";
import { h, replace } from "./dom.js";
import { accessPage } from "./pages/access.js";
import { backupPage } from "./pages/backup.js";
import { certificatesPage } from "./pages/certificates.js";
import { dashboardPage } from "./pages/dashboard.js";
import { historyPage } from "./pages/history.js";
import { loginPage } from "./pages/login.js";
import { serverPage } from "./pages/server.js";
import { servicePage, servicesPage } from "./pages/services.js";
import { settingsPage } from "./pages/settings.js";

const main = document.getElementById("main");
let stopPage = null;
let shown = 0; // the latest page asked for
let lastActivity = Date.now();
let endedBecause = "";

const ROUTES = [
  [/^#\/(dashboard)?$/, dashboardPage],
  [/^#\/services$/, servicesPage],
  [/^#\/services\/new$/, (m, main) => servicePage(null, main)],
  [/^#\/services\/([^/]+)$/, (m, main) => servicePage(decodeURIComponent(m[1]), main)],
  [/^#\/services\/([^/]+)\/servers\/new$/, (m, main) => serverPage(decodeURIComponent(m[1]), null, main)],
  [/^#\/services\/([^/]+)\/servers\/([^/]+)$/, (m, main) => serverPage(decodeURIComponent(m[1]), decodeURIComponent(m[2]), main)],
  [/^#\/certificates$/, certificatesPage],
  [/^#\/history$/, historyPage],
  [/^#\/access$/, accessPage],
  [/^#\/settings$/, settingsPage],
  [/^#\/backup$/, backupPage],
];

function markCurrent(hash) {
  for (const link of document.querySelectorAll("#nav a")) {
    const here = hash === link.getAttribute("href") || (hash.startsWith(link.getAttribute("href") + "/"));
    if (here || (hash === "#/" && link.getAttribute("href") === "#/dashboard")) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
}

async function show() {
  if (stopPage) stopPage();
  stopPage = null;
  if (!api.signedIn()) {
    shown += 1;
    document.getElementById("top").hidden = true;
    replace(main);
    loginPage(main, endedBecause, () => {
      endedBecause = "";
      lastActivity = Date.now();
      if (!location.hash || location.hash === "#/login") location.hash = "#/dashboard";
      else show();
    });
    return;
  }
  document.getElementById("top").hidden = false;
  document.getElementById("who").textContent = api.who() || "";
  const hash = location.hash || "#/dashboard";
  markCurrent(hash);
  document.getElementById("nav").classList.remove("open");
  document.getElementById("menu").setAttribute("aria-expanded", "false");
  const route = ROUTES.find(([pattern]) => pattern.test(hash));
  if (!route) {
    replace(main, h("h1", { text: "No such page" }), h("p", {}, h("a", { href: "#/dashboard", text: "Back to the dashboard" })));
    return;
  }
  // A page is drawn apart and shown only if it is still the one asked for (one may go elsewhere meanwhile).
  const token = ++shown;
  const view = h("div");
  replace(main, h("p", { class: "note", role: "status", text: "Loading…" }));
  let stop = null;
  try {
    stop = (await route[1](hash.match(route[0]), view)) || null;
  } catch (error) {
    if (!api.signedIn() || token !== shown) return;
    replace(view, h("h1", { text: "This page could not be shown" }), h("p", { class: "problems", text: error.message }));
  }
  if (token !== shown) {
    if (stop) stop();
    return;
  }
  stopPage = stop;
  replace(main, view);
  main.focus({ preventScroll: true });
}

window.addEventListener("hashchange", show);
window.addEventListener("session-ended", () => {
  endedBecause ||= "Your session ended (idle, logged out elsewhere, or the server restarted). Log in again.";
  show();
});

// A person at work: keys, clicks and touches. The page's own refreshes are not (the server agrees: X-Refresh).
for (const kind of ["keydown", "pointerdown", "input"]) window.addEventListener(kind, () => { lastActivity = Date.now(); }, { passive: true });
setInterval(async () => {
  if (api.signedIn() && Date.now() - lastActivity > api.idleSeconds() * 1000) {
    endedBecause = `You were logged out after ${Math.round(api.idleSeconds() / 60)} idle minutes.`;
    try { await api.logOut(); } catch { /* the session may have ended already */ }
    show();
  }
}, 10000);

document.getElementById("logout").addEventListener("click", async () => {
  try { await api.logOut(); } catch { /* gone already */ }
  endedBecause = "You logged out.";
  location.hash = "#/login";
  show();
});
document.getElementById("menu").addEventListener("click", (event) => {
  const nav = document.getElementById("nav");
  nav.classList.toggle("open");
  event.currentTarget.setAttribute("aria-expanded", String(nav.classList.contains("open")));
});

api.resume().then(show);
