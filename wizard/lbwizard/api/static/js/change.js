// A change as a person sees it: its steps as the unit runs them (the API's event stream), a clock that
// keeps counting so it never looks like a hang, and at the end what was saved, or what failed and was undone.
// Bad input (422) closes the window at once: the form shows each problem at its field.

import { ApiError, call } from "./api.js";
import { h, replace } from "./dom.js";

const dialog = () => document.getElementById("progress");

export async function runChange(method, path, options = {}) {
  const box = dialog();
  const steps = document.getElementById("progress-steps");
  const state = document.getElementById("progress-state");
  const end = document.getElementById("progress-end");
  const close = document.getElementById("progress-close");
  document.getElementById("progress-title").textContent = options.title || "Applying the change";
  replace(steps);
  replace(end);
  close.disabled = true;
  const started = performance.now();
  const seconds = () => Math.round((performance.now() - started) / 1000);
  state.textContent = "Sent to the unit; waiting for its first step…";
  const clock = setInterval(() => {
    state.textContent = `Working: ${seconds()} s${steps.lastChild ? ` (step ${steps.childElementCount})` : ""}`;
  }, 500);
  // Escape may not hide a change that is still running (it would go on unseen); once it ended, it may.
  const holdOpen = (event) => { if (close.disabled) event.preventDefault(); };
  box.addEventListener("cancel", holdOpen);
  if (!box.open) box.showModal();
  const finished = new Promise((resolve) => {
    const done = () => {
      box.removeEventListener("cancel", holdOpen);
      close.removeEventListener("click", done);
      box.removeEventListener("close", done);
      if (box.open) box.close();
      replace(end); // the next change starts with nothing of this one's
      resolve();
    };
    close.addEventListener("click", done);
    box.addEventListener("close", done);
  });
  try {
    const result = await call(method, path, {
      ...options,
      stream: true,
      onStep: (step) => {
        steps.lastChild?.classList.remove("running");
        steps.append(h("li", { class: "running", text: step }));
        steps.scrollTop = steps.scrollHeight;
      },
    });
    clearInterval(clock);
    steps.lastChild?.classList.remove("running");
    state.textContent = `Done in ${seconds()} s.`;
    replace(end, h("p", { class: "success" },
      h("strong", { text: result.version ? `Saved as version ${result.version}. ` : "Done. " }),
      result.change || result.removed || ""));
    close.disabled = false;
    close.focus();
    await finished;
    return result;
  } catch (error) {
    clearInterval(clock);
    if (error instanceof ApiError && error.status === 422) {
      box.close();
      throw error;
    }
    const problem = error.problem || {};
    state.textContent = `Stopped after ${seconds()} s.`;
    const undone = problem.type?.endsWith(":undo-incomplete")
      ? "It failed, and undoing it did not complete: see the steps and lbctl diagnose."
      : "Nothing was changed: it failed and every step was undone.";
    replace(end, h("div", { class: "problems" },
      h("p", {}, h("strong", { text: undone })),
      h("p", { text: error.message }),
      (problem.steps || []).length ? h("details", {}, h("summary", { text: "steps run before the failure" }),
        h("ol", {}, problem.steps.map((s) => h("li", { text: s })))) : null));
    close.disabled = false;
    close.focus();
    await finished;
    throw error;
  }
}

// A question before something that cannot be taken back quietly. Resolves true only on Confirm.
export function confirm(title, body, confirmLabel = "Confirm") {
  const box = document.getElementById("confirm");
  document.getElementById("confirm-title").textContent = title;
  replace(document.getElementById("confirm-body"), body);
  document.getElementById("confirm-ok").textContent = confirmLabel;
  box.returnValue = "";
  box.showModal();
  return new Promise((resolve) => box.addEventListener("close", () => resolve(box.returnValue === "ok"), { once: true }));
}

export function diffView(text) {
  return h("pre", { class: "diff", tabindex: "0" }, text.split("\n").map((line) =>
    h("span", { class: line.startsWith("+") ? "add" : line.startsWith("-") ? "del" : line.startsWith("@@") ? "hunk" : "", text: line + "\n" })));
}
