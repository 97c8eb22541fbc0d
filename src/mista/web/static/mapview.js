// The map: an offline basemap (Natural Earth land served by the node, no tiles, no glyphs)
// and one GeoJSON source per kind of item, each drawn by circle, line or fill layers (no DOM
// markers, so 20,000 vessels stay smooth).

import { VESSEL_PAINT } from "./symbology.js";

const EMPTY = { type: "FeatureCollection", features: [] };

// The map's layers by the toggles that show and hide them.
export const TOGGLES = {
  vessels: ["vessels", "vessel-selected"],
  tracks: ["track-line", "track-points"],
  alerts: ["alerts", "alert-selected"],
  zones: ["zones-fill", "zones-line"],
};

// What a click or hover picks, most specific first.
export const PICKABLE = ["vessels", "alerts", "zones-fill"];

const STYLE = {
  version: 8,
  sources: {
    // 1:50m land has no more detail to show past zoom 8: deeper tiles are overzoomed
    land: { type: "geojson", data: "/basemap/land.geojson", attribution: "Made with Natural Earth", maxzoom: 8 },
    zones: { type: "geojson", data: EMPTY },
    track: { type: "geojson", data: EMPTY },
    alerts: { type: "geojson", data: EMPTY },
    vessels: { type: "geojson", data: EMPTY, buffer: 8 },
    selection: { type: "geojson", data: EMPTY },
  },
  layers: [
    { id: "sea", type: "background", paint: { "background-color": "#0e1b26" } },
    { id: "land", type: "fill", source: "land", paint: { "fill-color": "#1e2a32" } },
    { id: "coast", type: "line", source: "land", paint: { "line-color": "#3b4d5a", "line-width": 0.6 } },
    { id: "zones-fill", type: "fill", source: "zones", paint: { "fill-color": "#e6c24a", "fill-opacity": 0.08 } },
    { id: "zones-line", type: "line", source: "zones", paint: { "line-color": "#e6c24a", "line-width": 1.2, "line-dasharray": [3, 2] } },
    { id: "track-line", type: "line", source: "track", filter: ["==", ["geometry-type"], "LineString"],
      paint: { "line-color": "#ffffff", "line-width": 1.6, "line-opacity": 0.85 } },
    { id: "track-points", type: "circle", source: "track", filter: ["==", ["geometry-type"], "Point"],
      paint: { "circle-color": "#ffffff", "circle-radius": 1.8, "circle-opacity": 0.7 } },
    { id: "vessels", type: "circle", source: "vessels", paint: VESSEL_PAINT },
    { id: "alerts", type: "circle", source: "alerts",
      paint: { "circle-color": "rgba(255,122,69,0.15)", "circle-radius": ["interpolate", ["linear"], ["zoom"], 2, 5, 10, 12],
        "circle-stroke-color": "#ff7a45", "circle-stroke-width": 1.6 } },
    { id: "alert-selected", type: "circle", source: "selection", filter: ["==", ["get", "kind"], "alert"],
      paint: { "circle-color": "rgba(0,0,0,0)", "circle-radius": 16, "circle-stroke-color": "#ff7a45", "circle-stroke-width": 3 } },
    { id: "vessel-selected", type: "circle", source: "selection", filter: ["==", ["get", "kind"], "vessel"],
      paint: { "circle-color": "rgba(0,0,0,0)", "circle-radius": 11, "circle-stroke-color": "#ffffff", "circle-stroke-width": 2.5 } },
  ],
};

/** The map in element `container`; resolves once its style is in (data may be set), while
 * the basemap may still be loading. */
export function createMap(container) {
  const map = new maplibregl.Map({
    container,
    style: STYLE,
    center: [78, 12],
    zoom: 3,
    attributionControl: { compact: false },
    renderWorldCopies: false,
    maxPitch: 0,
    dragRotate: false,
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-left");
  map.addControl(new maplibregl.ScaleControl({ unit: "nautical" }), "bottom-left");
  return new Promise((resolve) => map.once("style.load", () => resolve(map)));
}

export function setData(map, source, data) {
  map.getSource(source).setData(data);
}

export function showLayer(map, toggle, visible) {
  for (const id of TOGGLES[toggle]) map.setLayoutProperty(id, "visibility", visible ? "visible" : "none");
}

/** Fly to [lon, lat], zoomed in to at least `zoom`, in at most 1.5 s. */
export function flyTo(map, lonLat, zoom) {
  map.flyTo({ center: lonLat, zoom: Math.max(map.getZoom(), zoom), maxDuration: 1500, essential: true });
}

/** Resolves at the map's first 'idle' after `source` has loaded its new data. */
export function whenDrawn(map, source) {
  return new Promise((resolve) => {
    const loaded = (event) => {
      if (event.sourceId !== source || !map.isSourceLoaded(source)) return;
      map.off("sourcedata", loaded);
      map.once("idle", resolve);
    };
    map.on("sourcedata", loaded);
  });
}

/** The map's current view as a bbox query parameter "W,S,E,N" (west > east when the view
 * crosses the antimeridian, as the API takes it). */
export function viewBbox(map) {
  const bounds = map.getBounds();
  const clamp = (value) => Math.min(90, Math.max(-90, value));
  const wrap = (lon) => ((((lon + 180) % 360) + 360) % 360) - 180;
  let west = -180;
  let east = 180;
  if (bounds.getEast() - bounds.getWest() < 360) {
    west = wrap(bounds.getWest());
    east = wrap(bounds.getEast());
    if (east === -180) east = 180;
  }
  return [west, clamp(bounds.getSouth()), east, clamp(bounds.getNorth())]
    .map((value) => value.toFixed(4)).join(",");
}
