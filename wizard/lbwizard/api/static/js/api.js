// The console's only way into the unit: the HTTPS API (/api/v1), with a person's session cookie (HttpOnly:
// this script never sees it) and its CSRF token on every change. Problems come back as RFC 9457 details.

export const BASE = "/api/v1";
const session = { csrf: null, who: null, idleTimeout: 900 };

export class ApiError extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
  }
}

export function signedIn() {
  return session.csrf !== null;
}

export function who() {
  return session.who;
}

function remember(answer) {
  session.csrf = answer.csrf;
  session.who = answer.who;
  session.idleTimeout = answer.idle_timeout || 900;
}

export function forget() {
  session.csrf = null;
  session.who = null;
}

function headersFor(method, options) {
  const headers = { Accept: options.stream ? "text/event-stream" : "application/json" };
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.raw !== undefined) headers["Content-Type"] = options.rawType || "application/octet-stream";
  if (method !== "GET" && session.csrf) headers["X-CSRF-Token"] = session.csrf;
  if (options.auto) headers["X-Refresh"] = "auto"; // the page refreshing itself does not keep the session alive
  return headers;
}

async function problemOf(response) {
  try {
    return await response.json();
  } catch {
    return { title: response.statusText, detail: `the unit answered ${response.status} ${response.statusText}` };
  }
}

export async function call(method, path, options = {}) {
  let response;
  try {
    response = await fetch(BASE + path, {
      method,
      headers: headersFor(method, options),
      body: options.raw !== undefined ? options.raw : options.body !== undefined ? JSON.stringify(options.body) : undefined,
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch (error) {
    throw new ApiError(0, { title: "No answer", detail: `the unit did not answer (${error.message}); is it reachable?` });
  }
  if (response.status === 401 && path !== "/session") {
    forget();
    window.dispatchEvent(new CustomEvent("session-ended"));
  }
  if (!response.ok) throw new ApiError(response.status, await problemOf(response));
  if (options.stream && (response.headers.get("content-type") || "").startsWith("text/event-stream")) {
    return readEvents(response, options.onStep || (() => {}));
  }
  if (options.blob) return response;
  return response.status === 204 ? null : response.json();
}

export const get = (path, options) => call("GET", path, options);

// A change's steps as the server sends them (server-sent events over a POST: EventSource only does GET).
async function readEvents(response, onStep) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    buffer += decoder.decode(value || new Uint8Array(), { stream: !done });
    let end;
    while ((end = buffer.indexOf("\n\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const name = (block.match(/^event: (.*)$/m) || [])[1];
      const data = JSON.parse((block.match(/^data: (.*)$/m) || [])[1] || "null");
      if (name === "step") onStep(data.step);
      else if (name === "result") return data;
      else if (name === "problem") throw new ApiError(data.status || 500, data);
    }
    if (done) throw new ApiError(0, { title: "Cut off", detail: "the answer ended before the change did; see History for what was saved" });
  }
}

export async function logIn(password) {
  const answer = await call("POST", "/session", { body: { password } });
  remember(answer);
  return answer;
}

export async function resume() {
  // A page loaded anew: the cookie may still be good; GET /session gives its CSRF token again.
  try {
    remember(await call("GET", "/session"));
    return true;
  } catch {
    forget();
    return false;
  }
}

export async function logOut() {
  try {
    await call("DELETE", "/session");
  } finally {
    forget();
  }
}

export function idleSeconds() {
  return session.idleTimeout;
}
