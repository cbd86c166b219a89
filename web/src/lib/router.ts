/** Hash routing (`#/codes/abc`): static hosting serves one index.html per page, no rewrites. */
import { useEffect, useState } from "preact/hooks";

export interface Route {
  /** A pattern such as `/codes/:personId`. */
  path: string;
  /** Pages that need no signed-in caller (the sign-in page). */
  public?: boolean;
}

/** The parameters of `path` when it matches `pattern`, else null. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const want = pattern.split("/").filter(Boolean);
  const have = path.split("?")[0].split("/").filter(Boolean);
  if (want.length !== have.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < want.length; i += 1) {
    if (want[i].startsWith(":")) {
      const value = decoded(have[i]);
      if (value === null) return null;
      params[want[i].slice(1)] = value;
    } else if (want[i] !== have[i]) return null;
  }
  return params;
}

/** A path segment decoded, or null for a malformed escape (`%E0`): a link someone altered must
 * not stop the page from rendering (decodeURIComponent throws on it). */
function decoded(segment: string): string | null {
  try {
    return decodeURIComponent(segment);
  } catch {
    return null;
  }
}

export function currentPath(): string {
  const hash = window.location.hash.replace(/^#/, "");
  return hash.startsWith("/") ? hash : "/";
}

export function navigate(path: string): void {
  window.location.hash = path;
}

/** The path after `#`, re-rendering on every change. */
export function usePath(): string {
  const [path, setPath] = useState(currentPath());
  useEffect(() => {
    const changed = () => setPath(currentPath());
    window.addEventListener("hashchange", changed);
    changed(); // a change made before this effect ran (a redirect at first render)
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return path;
}
