// The side panels: the selected vessel, alert or zone, the alerts list and the legend.

import { el, facts, fixed, marking, utc } from "./dom.js";
import { flagOfMmsi } from "./flags.js";
import { SHIP_TYPES, SOURCES, legendRows, shipTypeClass } from "./symbology.js";

const detail = () => document.getElementById("detail");
const detailBody = () => document.getElementById("detail-body");

export function closeDetail() {
  detail().hidden = true;
  detailBody().replaceChildren();
}

function showDetail(...children) {
  detailBody().replaceChildren(...children);
  detail().hidden = false;
}

function typeText(code) {
  if (code === null || code === undefined) return "";
  const type = SHIP_TYPES.find((t) => t.key === shipTypeClass(code));
  return `${type.label} (${code})`;
}

function sourceText(kind) {
  const source = SOURCES.find((s) => s.kinds.includes(kind));
  return source ? `${source.label}` : kind || "";
}

/** The vessel panel: identity, motion, label, and a track section filled in later. */
export function showVessel(record, { partner = null } = {}) {
  const flag = record.flag || (record.mmsi ? `${flagOfMmsi(record.mmsi)} (claimed by MMSI)` : "");
  const title = record.name || (record.mmsi ? `MMSI ${record.mmsi}` : `Contact ${record.track_id || ""}`);
  const track = el("div", { className: "track", dataset: { testid: "track" } },
    partner ? el("span", { className: "muted" }, `Track not shown: viewing what ${partner} received.`)
      : el("span", { className: "muted" }, "Loading track…"));
  showDetail(
    el("p", { className: "detail-title", dataset: { testid: "detail-title" } }, title),
    marking(record.label, "detail-label"),
    facts([
      ["MMSI", record.mmsi ?? ""],
      ["IMO", record.imo ?? ""],
      ["Call sign", record.callsign ?? ""],
      ["Type", typeText(record.ship_type)],
      ["Flag", flag],
      ["Destination", record.destination ?? ""],
      ["Position", record.lat === null || record.lat === undefined ? "" : `${fixed(record.lat, 4, "°")}, ${fixed(record.lon, 4, "°")}`],
      ["Speed", fixed(record.speed_kn, 1, " kn")],
      ["Course", fixed(record.course_deg, 0, "°")],
      ["Heading", record.heading_deg === 511 ? "" : fixed(record.heading_deg, 0, "°")],
      ["Observed", utc(record.observed_at)],
      ["Source", sourceText(record.source_kind)],
      ["Originator", record.originator ?? ""],
    ]),
    track,
  );
  return track;
}

/** Fill a vessel panel's track section from a track answer ({count, points}). */
export function showTrack(section, answer, since) {
  const markings = [...new Set(answer.points.map((point) => point.label).filter(Boolean))];
  section.replaceChildren(
    el("h2", {}, "Track"),
    el("div", { dataset: { testid: "track-count" } },
      `${answer.count} positions since ${utc(since)}`),
    el("div", {}, "Markings on its positions: ", ...markings.map((text) => marking(text))),
  );
}

export function showTrackError(section, message) {
  section.replaceChildren(el("h2", {}, "Track"), el("span", { className: "muted" }, message));
}

function evidenceRows(evidence) {
  let value = evidence;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      return [["evidence", value]];
    }
  }
  if (!value || typeof value !== "object") return [];
  return Object.entries(value).map(([name, item]) => [
    name,
    typeof item === "object" && item !== null ? JSON.stringify(item) : String(item),
  ]);
}

/** The alert panel; `onVessel(mmsi)` selects one of its vessels. */
export function showAlert(alert, onVessel) {
  const vessels = (alert.mmsis || []).map((mmsi) =>
    el("button", { className: "vessel-link", type: "button", onclick: () => onVessel(mmsi) }, String(mmsi)));
  showDetail(
    el("p", { className: "detail-title", dataset: { testid: "detail-title" } }, `Alert: ${alert.kind}`),
    marking(alert.label, "detail-label"),
    facts([
      ["Status", alert.status],
      ["Start", utc(alert.start)],
      ["End", utc(alert.end)],
      ["Position", alert.lat === null || alert.lat === undefined ? "" : `${fixed(alert.lat, 4, "°")}, ${fixed(alert.lon, 4, "°")}`],
      ["Vessels", vessels.length ? el("span", {}, vessels) : ""],
      ["Revision", alert.revision],
      ["Id", alert.id],
    ]),
    el("h2", {}, "Evidence"),
    facts(evidenceRows(alert.evidence)),
  );
}

/** The zone panel: its name, label and the other properties. */
export function showZone(properties) {
  const rest = Object.entries(properties).filter(([name]) => !["name", "label"].includes(name));
  showDetail(
    el("p", { className: "detail-title", dataset: { testid: "detail-title" } }, `Zone: ${properties.name || "unnamed"}`),
    marking(properties.label, "detail-label"),
    facts(rest.map(([name, value]) => [name, typeof value === "object" ? JSON.stringify(value) : String(value)])),
  );
}

/** The alerts list, newest first (at most `limit` items); `onPick(id)` opens one. */
export function renderAlertList(alerts, selectedId, onPick, limit = 300) {
  const sorted = [...alerts].sort((a, b) => String(b.start).localeCompare(String(a.start)));
  document.getElementById("alert-count").textContent =
    sorted.length > limit ? `(${limit} newest of ${sorted.length})` : `(${sorted.length})`;
  document.getElementById("alert-list").replaceChildren(...sorted.slice(0, limit).map((alert) =>
    el("li", {},
      el("button", {
        type: "button",
        className: alert.id === selectedId ? "selected" : "",
        dataset: { testid: "alert-item", alertId: alert.id },
        onclick: () => onPick(alert.id),
      },
      el("span", {}, el("span", { className: "alert-kind" }, alert.kind), " ", el("span", { className: "muted" }, alert.status || "")),
      el("span", { className: "muted" }, `${utc(alert.start)} · ${(alert.mmsis || []).join(", ") || "no MMSI"}`),
      marking(alert.label)))));
}

/** The legend of the vessels drawn under the colour-by `mode`, with the source rings. */
export function renderLegend(features, mode) {
  const rows = legendRows(features, mode).map(({ label, colour, count }) => [
    el("span", { className: "swatch", style: `background:${colour}` }),
    el("span", {}, label),
    el("span", { className: "count" }, count.toLocaleString()),
  ]);
  const rings = mode === "source" ? [] : SOURCES.filter((s) => ["radar", "satellite"].includes(s.key)).map((s) => [
    el("span", { className: "swatch ring", style: `border-color:${s.ring}` }),
    el("span", {}, `ring: ${s.label}`),
    el("span", {}),
  ]);
  document.getElementById("legend").replaceChildren(...rows.flat(), ...rings.flat());
}
