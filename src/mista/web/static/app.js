// mista's live map: log in, draw the caller's picture (vessels, alerts, zones), follow the
// live stream, replay the last 24 h, and let an admin see what a partner receives.
// Every record comes from /api/v1 with the user's token and is drawn with its marking.

import { ApiError, clearToken, follow, get, getPublic, onUnauthenticated, setToken, takeToken } from "./api.js";
import { el, marking } from "./dom.js";
import { PICKABLE, createMap, flyTo, setData, showLayer, viewBbox, whenDrawn } from "./mapview.js";
import {
  closeDetail, renderAlertList, renderLegend, showAlert, showTrack, showTrackError, showVessel, showZone,
} from "./panels.js";
import { STEPS, TimeSlider, WINDOW_MS, positionsAt } from "./replay.js";
import { colourOf, shipTypeClass, sourceClass } from "./symbology.js";
import { splitAtAntimeridian } from "./geometry.js";

const DAY_MS = 24 * 60 * 60 * 1000;
const ALERT_HISTORY_MS = 7 * DAY_MS;
const REDRAW_MS = 1000;
const REPLAY_LIMIT = 200000;
const ALERT_LIMIT = 5000;

const state = {
  me: null,
  node: "",
  vessels: new Map(), // key ("m:<mmsi>" or "t:<track id>") -> record: the caller's picture, live
  drawn: new Map(), // key -> record drawn now (own picture, a replayed time or a partner's view)
  partner: null, // nation whose received picture is shown, or null
  replayAt: null, // Date being replayed, or null when live
  alerts: new Map(), // id -> alert
  selected: null, // {kind: "vessel", key} | {kind: "alert", id}
  track: null, // the selected vessel's track: {key, mmsi, since, answer, error, early}
  colourBy: "type",
  latest: new Date(0), // the picture's newest observation: the end of the replay window
  latestSeen: false, // whether `latest` comes from data (else it is the wall clock)
  stream: "off",
  stats: { vessels: 0, loadMs: null, drawMs: null },
  loaded: false,
};

let map = null;
let slider = null;
let stopStream = null;
let redrawTimer = null;
let replaySeq = 0;

const $ = (id) => document.getElementById(id);

// ---- vessels -------------------------------------------------------------------------------

function withKey(record) {
  if (record.key) return record;
  const key = record.mmsi !== null && record.mmsi !== undefined ? `m:${record.mmsi}` : `t:${record.id}`;
  return { ...record, key };
}

function noteTime(observedAt) {
  const time = observedAt ? Date.parse(observedAt) : NaN;
  if (!Number.isNaN(time) && time > state.latest.getTime()) state.latest = new Date(time);
}

function toFeature(record) {
  const properties = {
    key: record.key,
    mmsi: record.mmsi ?? null,
    type_class: shipTypeClass(record.ship_type),
    source_class: sourceClass(record.source_kind),
    originator: record.originator || "",
  };
  properties.colour = colourOf(properties, state.colourBy);
  return { type: "Feature", geometry: { type: "Point", coordinates: [record.lon, record.lat] }, properties };
}

function recordsToDraw() {
  if (state.partner) return state.partnerRecords || [];
  if (state.replayAt) return state.replayRecords || [];
  return state.vessels.values();
}

/** Draw the vessels of the current mode; resolves when the map has drawn them. */
function drawVessels() {
  clearTimeout(redrawTimer);
  redrawTimer = null;
  const features = [];
  state.drawn = new Map();
  for (const record of recordsToDraw()) {
    if (record.lat === null || record.lat === undefined || record.lon === null || record.lon === undefined) continue;
    state.drawn.set(record.key, record);
    features.push(toFeature(record));
  }
  const drawn = whenDrawn(map, "vessels");
  setData(map, "vessels", { type: "FeatureCollection", features });
  state.stats.vessels = features.length;
  renderLegend(features, state.colourBy);
  renderStatus();
  refreshSelection();
  return drawn;
}

function scheduleRedraw() {
  if (redrawTimer === null) redrawTimer = setTimeout(drawVessels, REDRAW_MS);
}

async function loadVessels() {
  const started = performance.now();
  const answer = await get("/vessels");
  state.vessels = new Map();
  for (const row of answer.vessels) {
    const record = withKey(row);
    state.vessels.set(record.key, record);
    noteTime(record.observed_at);
  }
  await loadContacts();
  state.latestSeen = state.latest.getTime() > 0;
  if (!state.latestSeen) state.latest = new Date(); // an empty picture: replay up to now
  const drawStarted = performance.now();
  await drawVessels();
  state.stats.loadMs = performance.now() - started;
  state.stats.drawMs = performance.now() - drawStarted;
}

// Radar tracks with no AIS identity ("dark" tracks) are drawn with the vessels, as radar
// contacts at their newest position. A node without fused tracks simply has none.
async function loadContacts() {
  let answer;
  try {
    answer = await get("/tracks?kind=dark");
  } catch (error) {
    if (error.status === 401) throw error;
    return;
  }
  for (const track of answer.tracks || []) {
    const record = {
      key: `t:${track.id}`,
      track_id: track.id,
      mmsi: track.mmsi ?? null,
      name: track.name || "",
      lat: track.lat,
      lon: track.lon,
      observed_at: track.last_at,
      source_kind: "radar",
      label: track.label,
    };
    if (record.mmsi === null) state.vessels.set(record.key, record);
  }
}

// ---- the live stream -----------------------------------------------------------------------

function isNewer(position, record) {
  if (!record || !record.observed_at) return true;
  return !(Date.parse(position.observed_at) < Date.parse(record.observed_at));
}

function onStreamEvent(event, data) {
  if (event === "position" && data.mmsi !== null && data.mmsi !== undefined) {
    const key = `m:${data.mmsi}`;
    const known = state.vessels.get(key);
    // a late position (older than the one shown) joins the track but does not move the vessel
    if (isNewer(data, known)) state.vessels.set(key, { ...(known || {}), ...data, key });
    noteTime(data.observed_at);
    slider.refresh();
    if (!state.partner && !state.replayAt) {
      scheduleRedraw();
      if (state.selected?.kind === "vessel" && state.selected.key === key) followSelected(key, data);
    }
  } else if (event === "alert" && data.id) {
    // a revision replaces the alert; a withdrawn one leaves the map (later data showed it
    // did not happen), as withdrawn alerts are not listed when the page loads
    if (data.status === "withdrawn") state.alerts.delete(data.id);
    else state.alerts.set(data.id, data);
    noteTime(data.start);
    drawAlerts();
  }
}

function startStream() {
  stopStream = follow(onStreamEvent, (stream) => {
    state.stream = stream;
    renderStatus();
  });
}

// ---- alerts and zones ----------------------------------------------------------------------

async function loadAlerts() {
  // the week before the newest observation; everything when the picture has no positions
  const since = state.latestSeen ? new Date(state.latest.getTime() - ALERT_HISTORY_MS) : null;
  const range = since ? `since=${encodeURIComponent(since.toISOString())}&` : "";
  const answer = await get(`/alerts?${range}limit=${ALERT_LIMIT}`);
  state.alerts = new Map(answer.alerts.map((alert) => [alert.id, alert]));
  drawAlerts();
}

function drawAlerts() {
  const features = [...state.alerts.values()]
    .filter((alert) => alert.lat !== null && alert.lat !== undefined)
    .map((alert) => ({
      type: "Feature",
      geometry: { type: "Point", coordinates: [alert.lon, alert.lat] },
      properties: { id: alert.id, kind: alert.kind },
    }));
  setData(map, "alerts", { type: "FeatureCollection", features });
  const selectedId = state.selected?.kind === "alert" ? state.selected.id : null;
  renderAlertList(state.alerts.values(), selectedId, selectAlert);
}

async function loadZones() {
  try {
    const answer = await get("/features/collections/zones/items?limit=10000");
    setData(map, "zones", answer);
  } catch (error) {
    if (error.status === 401) throw error;
    console.warn("mista: no zones layer:", error.message);
  }
}

// ---- selection -----------------------------------------------------------------------------

function markSelection(kind, lon, lat) {
  const features = lon === undefined || lon === null ? []
    : [{ type: "Feature", geometry: { type: "Point", coordinates: [lon, lat] }, properties: { kind } }];
  setData(map, "selection", { type: "FeatureCollection", features });
}

function refreshSelection() {
  if (state.selected?.kind !== "vessel") return;
  const record = state.drawn.get(state.selected.key);
  markSelection("vessel", record?.lon, record?.lat);
}

/** Draw the selected vessel's track (state.track) on the map and in its panel. */
function drawTrack() {
  const track = state.track;
  const points = track?.answer?.points || [];
  const coordinates = points.map((point) => [point.lon, point.lat]);
  setData(map, "track", {
    type: "FeatureCollection",
    features: [
      ...splitAtAntimeridian(coordinates).map((line) => (
        { type: "Feature", geometry: { type: "LineString", coordinates: line }, properties: { mmsi: track.mmsi } })),
      ...coordinates.map((point) => ({ type: "Feature", geometry: { type: "Point", coordinates: point }, properties: {} })),
    ],
  });
  const section = document.querySelector("#detail [data-testid=track]");
  if (!section) return;
  if (track.error) showTrackError(section, track.error);
  else if (track.answer) showTrack(section, track.answer, track.since);
}

/** Put a live position into a track answer, in time order, once. */
function addToTrack(answer, position) {
  const point = {
    observed_at: position.observed_at,
    lat: position.lat,
    lon: position.lon,
    speed_kn: position.speed_kn,
    course_deg: position.course_deg,
    source_kind: position.source_kind,
    label: position.label,
  };
  const time = Date.parse(point.observed_at);
  const same = (other) => Date.parse(other.observed_at) === time && other.lat === point.lat && other.lon === point.lon;
  if (answer.points.some(same)) return;
  let at = answer.points.length;
  while (at > 0 && Date.parse(answer.points[at - 1].observed_at) > time) at -= 1;
  answer.points.splice(at, 0, point);
  answer.count = answer.points.length;
}

/** A live position of the selected vessel: its panel shows it and its track grows. */
function followSelected(key, position) {
  const record = state.vessels.get(key);
  showVessel(record, {});
  markSelection("vessel", record.lon, record.lat);
  const track = state.track;
  if (!track || track.key !== key || track.error) {
    if (track?.key === key) drawTrack();
    return;
  }
  if (!track.answer) {
    track.early.push(position); // the track is still loading: add it when it comes
    return;
  }
  addToTrack(track.answer, position);
  drawTrack();
}

async function selectVessel(key) {
  const record = state.drawn.get(key) || state.vessels.get(key);
  if (!record) return;
  state.selected = { kind: "vessel", key };
  state.track = null;
  markSelection("vessel", record.lon, record.lat);
  setData(map, "track", { type: "FeatureCollection", features: [] });
  const section = showVessel(record, { partner: state.partner });
  if (state.partner) return;
  if (record.mmsi === null || record.mmsi === undefined) {
    showTrackError(section, "A radar contact: no AIS identity to follow.");
    return;
  }
  const until = state.replayAt || state.latest;
  const since = new Date(until.getTime() - DAY_MS);
  const query = `since=${encodeURIComponent(since.toISOString())}` +
    (state.replayAt ? `&until=${encodeURIComponent(until.toISOString())}` : "");
  const track = { key, mmsi: record.mmsi, since, answer: null, error: null, early: [] };
  state.track = track;
  try {
    const answer = await get(`/vessels/${record.mmsi}/track?${query}`);
    if (state.track !== track) return;
    track.answer = answer;
    for (const position of track.early) addToTrack(answer, position);
  } catch (error) {
    if (state.track !== track) return;
    if (error.status === 404 && track.early.length) {
      track.answer = { mmsi: record.mmsi, count: 0, points: [] };
      for (const position of track.early) addToTrack(track.answer, position);
    } else {
      track.error = error.status === 404 ? "No positions in the last 24 h." : error.message;
    }
  }
  track.early = [];
  drawTrack();
}

function selectVesselByMmsi(mmsi) {
  const key = `m:${mmsi}`;
  const record = state.drawn.get(key) || state.vessels.get(key);
  if (record?.lon !== undefined && record?.lon !== null) flyTo(map, [record.lon, record.lat], 8);
  selectVessel(key);
}

function selectAlert(id) {
  const alert = state.alerts.get(id);
  if (!alert) return;
  state.selected = { kind: "alert", id };
  state.track = null;
  setData(map, "track", { type: "FeatureCollection", features: [] });
  markSelection("alert", alert.lon, alert.lat);
  if (alert.lon !== null && alert.lon !== undefined) {
    flyTo(map, [alert.lon, alert.lat], 8);
  }
  showAlert(alert, selectVesselByMmsi);
  renderAlertList(state.alerts.values(), id, selectAlert);
}

function unselect() {
  state.selected = null;
  state.track = null;
  markSelection(null);
  setData(map, "track", { type: "FeatureCollection", features: [] });
  closeDetail();
  renderAlertList(state.alerts.values(), null, selectAlert);
}

function pick(point) {
  const layers = PICKABLE.filter((id) => map.getLayoutProperty(id, "visibility") !== "none");
  const found = map.queryRenderedFeatures(point, { layers });
  return layers.map((id) => found.find((feature) => feature.layer.id === id)).find(Boolean);
}

function onMapClick(event) {
  const feature = pick(event.point);
  if (!feature) return unselect();
  if (feature.layer.id === "vessels") return selectVessel(feature.properties.key);
  if (feature.layer.id === "alerts") return selectAlert(feature.properties.id);
  state.selected = { kind: "zone" };
  state.track = null;
  markSelection(null);
  setData(map, "track", { type: "FeatureCollection", features: [] });
  return showZone(feature.properties);
}

function hoverText(feature) {
  if (feature.layer.id === "vessels") {
    const record = state.drawn.get(feature.properties.key) || {};
    return [record.name || (record.mmsi ? `MMSI ${record.mmsi}` : "radar contact"), record.label];
  }
  if (feature.layer.id === "alerts") {
    const alert = state.alerts.get(feature.properties.id) || {};
    return [`alert: ${alert.kind}`, alert.label];
  }
  return [`zone: ${feature.properties.name || ""}`, feature.properties.label];
}

function installPointer() {
  const popup = new maplibregl.Popup({ closeButton: false, closeOnClick: false, offset: 10 });
  map.on("mousemove", (event) => {
    const feature = pick(event.point);
    map.getCanvas().style.cursor = feature ? "pointer" : "";
    if (!feature) return popup.remove();
    const [title, label] = hoverText(feature);
    popup.setLngLat(event.lngLat)
      .setDOMContent(el("div", {}, el("strong", {}, title), el("br"), marking(label)))
      .addTo(map);
  });
  map.on("mouseout", () => popup.remove());
  map.on("click", onMapClick);
  // a replayed time covers the view: fetch again for a new view (not while playing, which
  // fetches at every step anyway)
  map.on("moveend", () => {
    if (state.replayAt && !state.partner && !slider.timer) replayAt(state.replayAt);
  });
}

// ---- modes: replay and partner view ---------------------------------------------------------

async function replayAt(at) {
  const seq = ++replaySeq;
  state.replayAt = at;
  if (!at) {
    state.replayRecords = null;
    await drawVessels();
    return;
  }
  const since = new Date(at.getTime() - WINDOW_MS);
  const query = `bbox=${viewBbox(map)}&since=${encodeURIComponent(since.toISOString())}` +
    `&until=${encodeURIComponent(at.toISOString())}&limit=${REPLAY_LIMIT}`;
  try {
    const answer = await get(`/positions?${query}`);
    if (seq !== replaySeq) return;
    state.replayRecords = positionsAt(answer.positions, at, state.vessels);
    state.replayTruncated = answer.count >= REPLAY_LIMIT;
    await drawVessels();
  } catch (error) {
    if (seq === replaySeq) showProblem(`replay: ${error.message}`);
  }
}

function partnerNations(answer) {
  const list = Array.isArray(answer) ? answer : answer.partners ?? answer;
  if (Array.isArray(list)) {
    return list.map((item) => (typeof item === "string" ? item : item.nation || item.partner)).filter(Boolean);
  }
  return Object.keys(list || {});
}

async function setupPartnerView() {
  if (!(state.me.roles || []).includes("admin")) return;
  let nations = [];
  try {
    nations = partnerNations(await get("/partners"));
  } catch (error) {
    console.warn("mista: no partner list:", error.message);
    return;
  }
  if (!nations.length) return;
  const select = $("partner-select");
  select.replaceChildren(
    el("option", { value: "" }, `my picture (${state.me.name})`),
    ...nations.sort().map((nation) => el("option", { value: nation }, nation)),
  );
  select.addEventListener("change", () => viewAsPartner(select.value || null));
  $("partner-view").hidden = false;
}

async function viewAsPartner(nation) {
  state.partner = nation;
  slider.setEnabled(!nation);
  const banner = $("view-banner");
  banner.hidden = !nation;
  banner.textContent = nation ? `Viewing as ${nation}: what ${nation} received from this node` : "";
  unselect();
  if (!nation) {
    state.partnerRecords = null;
    await drawVessels();
    return;
  }
  try {
    const answer = await get(`/partners/${encodeURIComponent(nation)}/view/vessels`);
    if (state.partner !== nation) return;
    state.partnerRecords = (answer.vessels || []).map(withKey);
    await drawVessels();
  } catch (error) {
    showProblem(`view as ${nation}: ${error.message}`);
  }
}

// ---- header, status, login -----------------------------------------------------------------

function renderStatus() {
  const mode = state.partner ? `as ${state.partner}` : state.replayAt ? "replay" : `stream ${state.stream}`;
  const truncated = state.replayAt && state.replayTruncated ? " (first positions only: zoom in)" : "";
  $("status").textContent = `${state.stats.vessels.toLocaleString()} vessels${truncated} · ${mode}`;
}

function showProblem(message) {
  $("status").textContent = message;
  console.warn("mista:", message);
}

function showLogin(message) {
  const dialog = $("login");
  $("login-error").textContent = message || "";
  if (!dialog.open) dialog.showModal();
  $("login-token").focus();
}

function installLogin() {
  onUnauthenticated((error) => {
    if (stopStream) stopStream();
    clearToken();
    showLogin(`The node refused the token: ${error.message}`);
  });
  $("login-form").addEventListener("submit", () => {
    setToken($("login-token").value);
    // a fresh page is the simplest way to drop everything the last user saw
    if (state.me) window.location.reload();
    else boot();
  });
  $("logout").addEventListener("click", () => {
    clearToken();
    window.location.reload();
  });
}

function installControls() {
  for (const box of document.querySelectorAll("[data-layer]")) {
    box.addEventListener("change", () => showLayer(map, box.dataset.layer, box.checked));
  }
  $("colour-by").addEventListener("change", (event) => {
    state.colourBy = event.target.value;
    drawVessels();
  });
  $("detail-close").addEventListener("click", unselect);
}

async function boot() {
  try {
    state.me = await get("/me");
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 401) showLogin(`Cannot reach the node: ${error.message}`);
    return;
  }
  $("login").close();
  const me = state.me;
  $("who").textContent = `${me.name} · ${me.nation} · ${me.clearance}${me.roles?.length ? ` · ${me.roles.join(", ")}` : ""}`;
  $("logout").hidden = false;
  try {
    const layers = Promise.all([loadZones(), setupPartnerView()]);
    await loadVessels(); // alerts are read for the week before the vessels' newest time
    await Promise.all([loadAlerts(), layers]);
  } catch (error) {
    showProblem(error.message);
    return;
  }
  slider.refresh();
  startStream();
  state.loaded = true;
}

async function main() {
  map = await createMap("map");
  slider = new TimeSlider({ latest: () => state.latest, onTime: replayAt });
  installPointer();
  installControls();
  installLogin();
  getPublic("/health").then((health) => ($("node-name").textContent = `${health.nation} node`)).catch(() => {});
  if (takeToken()) await boot();
  else showLogin("");
}

// For the browser test and the benchmark: the map, the state, and a timed draw of records.
window.mista = {
  state,
  get map() {
    return map;
  },
  async featureCount(source) {
    return (await map.getSource(source).getData()).features.length;
  },
  async timeDraw(records) {
    state.replayAt = null;
    state.partner = null;
    state.vessels = new Map(records.map((record) => [withKey(record).key, withKey(record)]));
    const started = performance.now();
    await drawVessels();
    return performance.now() - started;
  },
  steps: STEPS,
};

main();
