/** The one way pages talk to the API: the caller's own token, Chinese messages, JSON in and out,
 * errors as `ApiError` carrying the envelope's `code`, `message` and `field`. */
import { session, signOut } from "./auth";
import { config } from "./config";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
  ) {
    super(message);
    this.name = "ApiError";
  }

  /** The token is missing, expired or refused: the page should sign in again. */
  get signInAgain(): boolean {
    return this.status === 401;
  }
}

export interface RequestOptions {
  method?: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Sent as JSON. */
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined | null>;
  /** For writes the API makes idempotent (docs/api.md): the same key replays the first answer. */
  idempotencyKey?: string;
  /** Read the answer as a Blob (QR images, posters, CSV) instead of JSON. */
  blob?: boolean;
  signal?: AbortSignal;
  /** Called with a successful answer's headers (a CSV page's `X-Next-Cursor`). */
  onHeaders?: (headers: Headers) => void;
}

/** A fresh key for one logical write; keep it while retrying that same write. */
export function newIdempotencyKey(): string {
  return crypto.randomUUID();
}

export function urlFor(path: string, query?: RequestOptions["query"]): string {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
  }
  const text = params.toString();
  return `${config().apiBase}${path}${text ? `?${text}` : ""}`;
}

async function errorFrom(answer: Response): Promise<ApiError> {
  let body: unknown = null;
  try {
    body = await answer.json();
  } catch {
    body = null;
  }
  const envelope = (body as { error?: { code?: string; message?: string; field?: string | null } })?.error;
  if (envelope && typeof envelope.code === "string") {
    return new ApiError(answer.status, envelope.code, envelope.message ?? envelope.code, envelope.field ?? null);
  }
  if (answer.status === 401) {
    // API Gateway's authorizer: {"message": "Unauthorized"}
    return new ApiError(401, "unauthorized", "登录已失效，请重新登录");
  }
  const message = (body as { message?: string })?.message ?? `HTTP ${answer.status}`;
  return new ApiError(answer.status, `http_${answer.status}`, message);
}

export async function api<T = unknown>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { "Accept-Language": "zh-CN" };
  const current = session();
  if (current) headers.Authorization = `Bearer ${current.token}`;
  if (options.body !== undefined) headers["Content-Type"] = "application/json";
  if (options.idempotencyKey) headers["Idempotency-Key"] = options.idempotencyKey;
  if (!options.blob) headers.Accept = "application/json";
  let answer: Response;
  try {
    answer = await fetch(urlFor(path, options.query), {
      method: options.method ?? (options.body === undefined ? "GET" : "POST"),
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: options.signal,
    });
  } catch (error) {
    if ((error as Error).name === "AbortError") throw error;
    throw new ApiError(0, "network", "网络连接失败，请稍后重试");
  }
  if (!answer.ok) {
    const error = await errorFrom(answer);
    if (error.signInAgain) signOut();
    throw error;
  }
  options.onHeaders?.(answer.headers);
  if (options.blob) return (await answer.blob()) as T;
  if (answer.status === 204) return undefined as T;
  const text = await answer.text();
  return (text ? JSON.parse(text) : undefined) as T;
}
