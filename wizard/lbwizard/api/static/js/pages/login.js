// Log in with root's password. It goes in the body of a POST, never in an address, and is not kept.

import * as api from "../api.js";
import { h, replace } from "../dom.js";

export function loginPage(main, why, done) {
  const password = h("input", { id: "password", type: "password", autocomplete: "current-password", required: true });
  const said = h("p", { role: "alert" });
  const submit = h("button", { type: "submit", class: "primary", text: "Log in" });
  const form = h("form", { class: "card login", method: "post", action: "#", "aria-labelledby": "login-title" },
    h("h1", { id: "login-title", text: "Log in to this load balancer" }),
    why ? h("p", { class: "note", text: why }) : null,
    h("input", { type: "text", name: "username", autocomplete: "username", value: "root", hidden: true, readonly: true, tabindex: "-1" }),
    h("div", { class: "field" }, h("label", { for: "password", text: "root's password" }), password),
    said,
    h("p", { class: "buttons" }, submit));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    replace(said);
    try {
      await api.logIn(password.value);
      password.value = "";
      done();
    } catch (error) {
      password.value = "";
      replace(said, h("span", { class: "problems", text: error.status === 401 ? "That is not root's password." : error.message }));
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  replace(main, form);
  password.focus();
}
