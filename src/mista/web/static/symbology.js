// How vessels are drawn: a colour by ship type, source or originating nation, and a ring by
// source kind (radar contacts and satellite AIS stand out from terrestrial AIS).

// AIS ship and cargo type (ITU-R M.1371-5, Table 53): the first digit is the kind of ship
// (3x special, 4x high-speed craft, 6x passenger, 7x cargo, 8x tanker), 30-37 and 50-59 are
// single codes.
export const SHIP_TYPES = [
  { key: "cargo", label: "Cargo", colour: "#4f9fe0", codes: [[70, 79]] },
  { key: "tanker", label: "Tanker", colour: "#e0604f", codes: [[80, 89]] },
  { key: "passenger", label: "Passenger", colour: "#b47fe6", codes: [[60, 69]] },
  { key: "fishing", label: "Fishing", colour: "#e6c24a", codes: [[30, 30]] },
  { key: "tug", label: "Tug / towing", colour: "#6fd0a8", codes: [[31, 32], [52, 52]] },
  { key: "military", label: "Military / law enforcement", colour: "#9bd04a", codes: [[35, 35], [55, 55]] },
  { key: "hsc", label: "High-speed craft", colour: "#f08fc0", codes: [[40, 49]] },
  { key: "pleasure", label: "Sailing / pleasure", colour: "#58d6e6", codes: [[36, 37]] },
  { key: "service", label: "Pilot / SAR / service", colour: "#f0a050", codes: [[33, 34], [50, 51], [53, 54], [56, 59]] },
  { key: "other", label: "Other", colour: "#a8b2ba", codes: [] },
  { key: "unknown", label: "Type not known", colour: "#66727c", codes: [] },
];

// Source kinds of mista.model.SourceKind, grouped for the map.
export const SOURCES = [
  { key: "ais", label: "AIS (terrestrial)", colour: "#4f9fe0", ring: "#0b141c", kinds: ["ais-terrestrial", "position-file"] },
  { key: "satellite", label: "AIS (satellite)", colour: "#58d6e6", ring: "#bfefff", kinds: ["ais-satellite"] },
  { key: "radar", label: "Radar contact", colour: "#f0a050", ring: "#ffffff", kinds: ["radar"] },
  { key: "visual", label: "Visual", colour: "#9bd04a", ring: "#ffffff", kinds: ["visual"] },
  { key: "unknown", label: "Source not known", colour: "#66727c", ring: "#0b141c", kinds: [] },
];

// The four exercise navies keep the same colours everywhere; other nations get one from
// the palette by a hash of their code, so a nation's colour never changes between loads.
const NATION_COLOURS = { IND: "#f0a050", USA: "#4f9fe0", JPN: "#e0604f", AUS: "#9bd04a" };
const PALETTE = ["#b47fe6", "#58d6e6", "#e6c24a", "#f08fc0", "#6fd0a8", "#d0d08a", "#8aa0f0"];

export function shipTypeClass(code) {
  if (code === null || code === undefined || code === 0) return "unknown";
  for (const type of SHIP_TYPES) {
    if (type.codes.some(([low, high]) => code >= low && code <= high)) return type.key;
  }
  return "other";
}

export function sourceClass(kind) {
  if (!kind) return "unknown";
  const found = SOURCES.find((source) => source.kinds.includes(kind));
  return found ? found.key : "unknown";
}

export function nationColour(nation) {
  if (!nation) return "#66727c";
  if (NATION_COLOURS[nation]) return NATION_COLOURS[nation];
  let hash = 0;
  for (const char of nation) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
  return PALETTE[hash % PALETTE.length];
}

/** The colour of a vessel's properties under a colour-by mode (type, source or nation). */
export function colourOf(properties, mode) {
  if (mode === "source") return SOURCES.find((s) => s.key === properties.source_class).colour;
  if (mode === "nation") return nationColour(properties.originator);
  return SHIP_TYPES.find((t) => t.key === properties.type_class).colour;
}

/** Legend rows [{label, colour, count}] for the vessels `features` under `mode`. */
export function legendRows(features, mode) {
  const counts = new Map();
  for (const feature of features) {
    const p = feature.properties;
    const key = mode === "source" ? p.source_class : mode === "nation" ? p.originator || "" : p.type_class;
    counts.set(key, (counts.get(key) || 0) + 1);
  }
  if (mode === "nation") {
    return [...counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([nation, count]) => ({ label: nation || "not known", colour: nationColour(nation), count }));
  }
  const table = mode === "source" ? SOURCES : SHIP_TYPES;
  return table
    .filter((row) => counts.has(row.key))
    .map((row) => ({ label: row.label, colour: row.colour, count: counts.get(row.key) }));
}

// MapLibre paint for the vessels' circle layer: colour precomputed per feature (so switching
// the colour-by mode is one setData), ring and size by source, size by zoom.
export const VESSEL_PAINT = {
  "circle-color": ["get", "colour"],
  "circle-radius": ["interpolate", ["linear"], ["zoom"], 2, 2.2, 6, 3.5, 10, 6, 14, 8],
  "circle-stroke-color": [
    "match", ["get", "source_class"],
    ...SOURCES.flatMap((source) => [source.key, source.ring]),
    "#0b141c",
  ],
  "circle-stroke-width": ["match", ["get", "source_class"], ["radar", "visual", "satellite"], 1.2, 0.5],
};
