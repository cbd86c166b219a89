/** Load an API answer into a page: `{data, error, loading, reload}`. The request is aborted
 * when the page goes away or the path changes. */
import { useCallback, useEffect, useState } from "preact/hooks";
import { api, type RequestOptions } from "./api";

export function useApi<T>(path: string | null, options: RequestOptions = {}) {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(path !== null);
  const [round, setRound] = useState(0);
  const key = JSON.stringify([path, options.query]);
  useEffect(() => {
    if (path === null) return;
    const abort = new AbortController();
    setLoading(true);
    setError(null);
    api<T>(path, { ...options, signal: abort.signal })
      .then((value) => setData(value))
      .catch((e) => {
        if ((e as Error).name !== "AbortError") setError(e);
      })
      .finally(() => {
        if (!abort.signal.aborted) setLoading(false);
      });
    return () => abort.abort();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, round]);
  const reload = useCallback(() => setRound((n) => n + 1), []);
  return { data, error, loading, reload };
}
