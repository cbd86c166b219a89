/** Who checks in at a venue: the account's own person scans, its dependants come along as
 * companions (the API requires the caller to manage every one: `403 not_your_person`). */
export interface HeldCode {
  person_id: string;
  colour: string;
  risk_level: number;
  name_masked: string;
  /** Served by GET /v1/codes: true for a dependant's code. */
  dependant?: boolean;
}

/** The person who checks in by default: the account's own code, else its first code. */
export function defaultScanner(codes: readonly HeldCode[]): string | null {
  return (codes.find((c) => !c.dependant) ?? codes[0])?.person_id ?? null;
}

/** The body of POST /v1/checkins; companions never include the scanning person, each once. */
export function checkinBody(venueCode: string, personId: string, companions: readonly string[], location: { lat: number; lng: number }) {
  const others = [...new Set(companions)].filter((id) => id !== personId);
  return {
    venue_code: venueCode.trim(),
    person_id: personId,
    ...(others.length > 0 ? { companions: others } : {}),
    location: { lat: location.lat, lng: location.lng },
  };
}
