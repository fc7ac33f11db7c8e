/**
 * gather.wat assembled (wabt 1.0.39, bulk memory on): 169 bytes. Kept as text
 * here so that `tsc` alone builds the project; test/fleet/piece-arena.test.ts
 * assembles gather.wat again and fails if these bytes are not its own.
 */
export const GATHER_WASM_BASE64 =
  'AGFzbQEAAAABCQFgBH9/f38BfwMCAQAFBgEBAYCAAgcTAgZtZW1vcnkCAAZnYXRoZXIAAApzAXEBBH8gACABQQxsaiEEAkADQCAAIARPDQEgAiAAKAIAQQJ0aiEFIAIgACgCBEECdGohBgJAA0AgBSAGTw0BIAUoAgQhByADIAUoAgAgB/wKAAAgAyAHaiEDIAVBCGohBQwACwsgAEEMaiEADAALCyADCw==';
