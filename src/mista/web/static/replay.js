// Replaying the last 24 h. The slider has 288 steps of 5 minutes ending at the picture's
// newest observation (the wall clock on a live node; the end of the data on a stored one).
// At time t a vessel is drawn at its newest position in the hour before t; radar contacts,
// which carry no identity to follow, only when seen in the 10 minutes before t.

import { utc } from "./dom.js";

export const STEPS = 288;
export const STEP_MS = 5 * 60 * 1000;
export const WINDOW_MS = 60 * 60 * 1000;
const CONTACT_WINDOW_MS = 10 * 60 * 1000;
const PLAY_INTERVAL_MS = 700;
const IDENTITY = ["name", "callsign", "imo", "ship_type", "destination"];

/** The time of slider `step` when the newest observation is `latest` (a Date). */
export function timeAt(step, latest) {
  return new Date(latest.getTime() - (STEPS - step) * STEP_MS);
}

/** Records to draw at `at` from position rows in time order, identities from `known`. */
export function positionsAt(rows, at, known) {
  const byKey = new Map();
  for (const row of rows) {
    if (row.lat === null || row.lon === null || row.lat === undefined) continue;
    if (row.mmsi !== null && row.mmsi !== undefined) {
      byKey.set(`m:${row.mmsi}`, row);
    } else if (at.getTime() - Date.parse(row.observed_at) <= CONTACT_WINDOW_MS) {
      byKey.set(`r:${row.report_id || byKey.size}`, row);
    }
  }
  return [...byKey].map(([key, row]) => {
    const identity = known.get(key) || {};
    const record = { ...row, key };
    for (const field of IDENTITY) if (identity[field] !== undefined) record[field] = identity[field];
    return record;
  });
}

/**
 * The slider, its label and the play button. `latest()` is the newest observation (a Date);
 * `onTime(date | null)` hears the chosen time (null = live) and returns a promise: playing
 * waits for it before the next step.
 */
export class TimeSlider {
  constructor({ latest, onTime }) {
    this.slider = document.getElementById("time");
    this.label = document.getElementById("time-label");
    this.button = document.getElementById("play");
    this.latest = latest;
    this.onTime = onTime;
    this.timer = null;
    this.pending = null;
    this.slider.addEventListener("input", () => this.changed());
    this.button.addEventListener("click", () => (this.timer ? this.stop() : this.play()));
  }

  isLive() {
    return Number(this.slider.value) >= STEPS;
  }

  /** Show the newest observation time while live (call when it moves on). */
  refresh() {
    if (this.isLive()) this.label.textContent = `live · ${utc(this.latest())}`;
  }

  setEnabled(enabled) {
    this.slider.disabled = !enabled;
    this.button.disabled = !enabled;
    if (!enabled) this.stop();
  }

  changed() {
    const at = this.isLive() ? null : timeAt(Number(this.slider.value), this.latest());
    this.label.textContent = at ? `replay · ${utc(at)}` : `live · ${utc(this.latest())}`;
    // dragging fires many inputs: ask for the time the slider rests on
    clearTimeout(this.pending);
    this.pending = setTimeout(() => this.onTime(at), 150);
  }

  play() {
    if (this.isLive()) this.slider.value = "0";
    this.button.textContent = "❚❚";
    const step = async () => {
      if (this.isLive()) return this.stop();
      this.slider.value = String(Number(this.slider.value) + 1);
      this.label.textContent = `replay · ${utc(timeAt(Number(this.slider.value), this.latest()))}`;
      await this.onTime(this.isLive() ? null : timeAt(Number(this.slider.value), this.latest()));
      if (this.timer) this.timer = setTimeout(step, PLAY_INTERVAL_MS);
    };
    this.timer = setTimeout(step, 0);
  }

  stop() {
    clearTimeout(this.timer);
    this.timer = null;
    this.button.textContent = "▶";
  }
}
