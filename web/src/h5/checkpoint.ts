/** The checkpoint a staff account works at. The API has no route listing a scanner's assignments
 * (the venue's manager assigns them), so staff type the venue id once; it is kept in
 * sessionStorage under the account (gone with the tab, never shared between accounts) and the
 * API checks the assignment on every scan (`403 not_assigned`). */
const PREFIX = "hc.checkpoint.";

type Store = Pick<Storage, "getItem" | "setItem" | "removeItem">;

function store(): Store | null {
  return typeof sessionStorage === "undefined" ? null : sessionStorage;
}

/** A venue id as the API hands them out: printable ASCII, no spaces. */
export function cleanCheckpoint(value: string): string | null {
  const trimmed = value.trim();
  return /^[!-~]{1,128}$/.test(trimmed) ? trimmed : null;
}

export function savedCheckpoint(sub: string, storage: Store | null = store()): string | null {
  return storage?.getItem(PREFIX + sub) ?? null;
}

export function saveCheckpoint(sub: string, checkpoint: string | null, storage: Store | null = store()): void {
  if (!storage) return;
  if (checkpoint) storage.setItem(PREFIX + sub, checkpoint);
  else storage.removeItem(PREFIX + sub);
}
