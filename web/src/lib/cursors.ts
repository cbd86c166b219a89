import { useState } from "preact/hooks";

/** The signed cursors a list has been through, so "previous" goes back without a backward cursor
 * from the API. */
export function useCursors() {
  const [trail, setTrail] = useState<string[]>([]);
  return {
    cursor: trail.length ? trail[trail.length - 1] : undefined,
    hasPrevious: trail.length > 0,
    next: (cursor: string) => setTrail((t) => [...t, cursor]),
    previous: () => setTrail((t) => t.slice(0, -1)),
    reset: () => setTrail([]),
  };
}
