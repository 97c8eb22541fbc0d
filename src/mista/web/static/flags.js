// The flag a ship's MMSI claims: its first three digits are the Maritime Identification
// Digits (ITU-R M.585 Annex 1; ITU MID table). Shown as "claimed by MMSI" because a vessel
// may transmit any number; a record's own flag field, when the node has one, wins.
// The main flags of shipping and of the region; others show the MID itself.

const MIDS = {
  IND: [419], USA: [303, 338, 366, 367, 368, 369], JPN: [431, 432], AUS: [503],
  PAN: [351, 352, 353, 354, 355, 356, 357, 370, 371, 372, 373, 374], LBR: [636, 637],
  MHL: [538], SGP: [563, 564, 565, 566], CHN: [412, 413, 414], HKG: [477], MLT: [215, 229, 248, 249, 256],
  BHS: [308, 309, 311], GRC: [237, 239, 240, 241], CYP: [209, 210, 212], NOR: [257, 258, 259],
  GBR: [232, 233, 234, 235], DEU: [211, 218], NLD: [244, 245, 246], DNK: [219, 220],
  FRA: [226, 227, 228], ITA: [247], ESP: [224, 225], PRT: [263], BEL: [205], SWE: [265, 266],
  FIN: [230], POL: [261], RUS: [273], TUR: [271], UKR: [272], CAN: [316], MEX: [345],
  BRA: [710], ARG: [701], CHL: [725], PER: [760], KOR: [440, 441], PRK: [445], TWN: [416],
  PHL: [548], VNM: [574], THA: [567], MYS: [533], IDN: [525], BRN: [508], KHM: [514, 515],
  MMR: [506], BGD: [405], LKA: [417], PAK: [463], MDV: [455], IRN: [422], SAU: [403],
  ARE: [470, 471], OMN: [461], QAT: [466], KWT: [447], BHR: [408], EGY: [622], ZAF: [601],
  KEN: [634], TZA: [674, 677], MOZ: [650], MDG: [647], MUS: [645], SYC: [664], NGA: [657],
  NZL: [512], PNG: [553], FJI: [520], VUT: [576, 577], TUV: [572], KIR: [529], TON: [570],
  COK: [518], ATG: [304, 305], VCT: [375, 376, 377], BLZ: [312], BRB: [314], CYM: [319],
  BMU: [310], KNA: [341], TGO: [671], SLE: [667], COM: [620], PLW: [511], MNG: [457],
};

const FLAG_OF_MID = new Map(
  Object.entries(MIDS).flatMap(([nation, mids]) => mids.map((mid) => [mid, nation])),
);

/** The flag the MMSI claims ("PAN"), "MID 123" for one not in the table, or "" for none. */
export function flagOfMmsi(mmsi) {
  if (!Number.isInteger(mmsi) || mmsi < 100000000 || mmsi > 999999999) return "";
  const mid = Math.floor(mmsi / 1000000);
  return FLAG_OF_MID.get(mid) || `MID ${mid}`;
}
