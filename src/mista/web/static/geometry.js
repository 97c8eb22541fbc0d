// Lines on a map whose longitudes stop at ±180°: a track that crosses the antimeridian
// would otherwise be drawn the long way round the world.

/**
 * The parts of a track ([[lon, lat], ...] in time order) split where a step crosses the
 * antimeridian: each step of more than 180° of longitude is taken the short way, and both
 * parts end on ±180° at the latitude interpolated along that short way.
 */
export function splitAtAntimeridian(coordinates) {
  const parts = [];
  let part = [];
  for (const point of coordinates) {
    const previous = part[part.length - 1];
    if (previous && Math.abs(point[0] - previous[0]) > 180) {
      const east = previous[0] > 0; // leaving over +180 (eastwards) or -180 (westwards)
      const edge = east ? 180 : -180;
      const lonNext = point[0] + (east ? 360 : -360); // the next point, unwrapped
      const share = (edge - previous[0]) / (lonNext - previous[0]);
      const lat = previous[1] + share * (point[1] - previous[1]);
      part.push([edge, lat]);
      parts.push(part);
      part = [[-edge, lat]];
    }
    part.push(point);
  }
  if (part.length) parts.push(part);
  return parts.filter((line) => line.length > 1);
}
