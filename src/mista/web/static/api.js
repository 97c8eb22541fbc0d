// Talking to the node: the user's token, authenticated requests to /api/v1, the live stream.
// The token travels only in the Authorization header (never in a URL the server logs), and
// lives in sessionStorage: it goes when the tab closes.

const TOKEN_KEY = "mista.token";
const API = "/api/v1";

let unauthenticated = () => {};

/** Call `handler(error)` whenever the node refuses the token (401). */
export function onUnauthenticated(handler) {
  unauthenticated = handler;
}

/** The token from the URL fragment (#token=...), moved into sessionStorage, or the stored one. */
export function takeToken() {
  const match = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (match) {
    sessionStorage.setItem(TOKEN_KEY, decodeURIComponent(match[1]));
    // keep the token out of the address bar, history and screenshots
    history.replaceState(null, "", window.location.pathname + window.location.search);
  }
  return sessionStorage.getItem(TOKEN_KEY);
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token.trim());
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** An error answered by the node in its one shape {"error": {status, code, message}}. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function headers(accept) {
  return { Authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) || ""}`, Accept: accept };
}

async function failure(response) {
  let code = "error";
  let message = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    code = body.error.code;
    message = body.error.message;
  } catch {
    // not the error shape (a proxy in between?): keep the status line
  }
  const error = new ApiError(response.status, code, message);
  if (response.status === 401) unauthenticated(error);
  return error;
}

/** GET `path` under /api/v1 with the user's token; the parsed JSON, or throws ApiError. */
export async function get(path, { signal } = {}) {
  const response = await fetch(API + path, { headers: headers("application/json"), signal });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** GET a path outside /api/v1 that needs no token (e.g. /health). */
export async function getPublic(path) {
  const response = await fetch(path, { headers: { Accept: "application/json" } });
  if (!response.ok) throw await failure(response);
  return response.json();
}

/** Split a Server-Sent Events byte stream into (event, JSON data) calls of `onEvent`. */
export async function readEvents(body, onEvent) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let event = "message";
  let data = [];
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let end;
    while ((end = buffer.indexOf("\n")) >= 0) {
      const line = buffer.slice(0, end).replace(/\r$/, "");
      buffer = buffer.slice(end + 1);
      if (line === "") {
        if (data.length) {
          let parsed = null;
          try {
            parsed = JSON.parse(data.join("\n"));
          } catch {
            console.warn("mista: stream event with data that is not JSON", event);
          }
          if (parsed !== null) onEvent(event, parsed);
        }
        event = "message";
        data = [];
      } else if (!line.startsWith(":")) {
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        const text = colon < 0 ? "" : line.slice(colon + 1).replace(/^ /, "");
        if (field === "event") event = text;
        else if (field === "data") data.push(text);
      }
    }
  }
}

/**
 * Follow GET /api/v1/stream (fetch streaming, so the Bearer header can be sent), reconnecting
 * with backoff. `onState` hears "live", "reconnecting" or "stopped". Returns a stop function.
 */
export function follow(onEvent, onState) {
  const controller = new AbortController();
  const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  (async () => {
    let delayMs = 1000;
    while (!controller.signal.aborted) {
      try {
        const response = await fetch(`${API}/stream`, {
          headers: headers("text/event-stream"),
          signal: controller.signal,
          cache: "no-store",
        });
        if (response.status === 401) {
          await failure(response);
          onState("stopped");
          return;
        }
        if (!response.ok || !response.body) throw await failure(response);
        onState("live");
        delayMs = 1000;
        await readEvents(response.body, onEvent);
      } catch (error) {
        if (controller.signal.aborted) break;
        console.warn("mista: live stream interrupted:", error.message || error);
      }
      if (controller.signal.aborted) break;
      onState("reconnecting");
      await wait(delayMs);
      delayMs = Math.min(delayMs * 2, 30000);
    }
    onState("stopped");
  })();
  return () => controller.abort();
}
