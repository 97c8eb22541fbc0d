"""AIS decoding: NMEA framing and ITU-R M.1371-5 payloads, pure (no I/O)."""
