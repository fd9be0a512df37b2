/**
 * REST half of the SDK: one `request()` that adds the bearer token, retries
 * once after refreshing an expired access token (single-flight, so parallel
 * calls share one refresh), and turns the API's error shape into
 * `ParleyApiError`.
 */
import type { ErrorCode, ErrorDetail } from '@parley/contracts';

export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

export class ParleyApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ErrorCode | 'network_error',
    message: string,
    readonly details: ErrorDetail[] = [],
    readonly requestId?: string,
    readonly retryAfterSec?: number,
  ) {
    super(message);
    this.name = 'ParleyApiError';
  }
}

export interface HttpClientOptions {
  /** Gateway origin, e.g. `http://localhost:3000`. */
  baseUrl: string;
  tokens?: Tokens | null;
  /** Called whenever tokens change (login, refresh, logout): persist them here. */
  onTokens?: (tokens: Tokens | null) => void;
  fetch?: typeof fetch;
  /** Sent as `X-Request-Id` when set (a new one per call otherwise, by the server). */
  requestId?: () => string | undefined;
}

type Query = Record<string, string | number | boolean | undefined | null>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Do not send the token and do not refresh (register, login, refresh). */
  anonymous?: boolean;
}

export class HttpClient {
  readonly baseUrl: string;
  private tokens: Tokens | null;
  private refreshing: Promise<boolean> | null = null;
  private readonly fetchImpl: typeof fetch;

  constructor(private readonly opts: HttpClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.tokens = opts.tokens ?? null;
    this.fetchImpl = opts.fetch ?? globalThis.fetch.bind(globalThis);
  }

  getTokens(): Tokens | null {
    return this.tokens;
  }

  setTokens(tokens: Tokens | null): void {
    this.tokens = tokens;
    this.opts.onTokens?.(tokens);
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const first = await this.send(method, path, opts);
    if (first.status === 401 && !opts.anonymous && this.tokens?.refreshToken) {
      const code = await peekCode(first);
      if (code === 'unauthorized' && (await this.refresh())) {
        return this.parse<T>(await this.send(method, path, opts));
      }
      return this.parse<T>(first);
    }
    return this.parse<T>(first);
  }

  /** Exchanges the refresh token for new tokens; false when the session is over. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const refreshToken = this.tokens?.refreshToken;
        if (!refreshToken) return false;
        try {
          const res = await this.send('POST', '/v1/auth/refresh', { body: { refreshToken }, anonymous: true });
          if (!res.ok) {
            if (res.status === 401) this.setTokens(null);
            return false;
          }
          const body = (await res.json()) as Tokens;
          this.setTokens({ accessToken: body.accessToken, refreshToken: body.refreshToken });
          return true;
        } catch {
          return false;
        }
      })().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async send(method: string, path: string, opts: RequestOptions): Promise<Response> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (opts.body !== undefined) headers['content-type'] = 'application/json';
    if (!opts.anonymous && this.tokens) headers.authorization = `Bearer ${this.tokens.accessToken}`;
    const rid = this.opts.requestId?.();
    if (rid) headers['x-request-id'] = rid;
    try {
      return await this.fetchImpl(this.baseUrl + path + toQueryString(opts.query), {
        method,
        headers,
        body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      });
    } catch (err) {
      throw new ParleyApiError(0, 'network_error', `network error: ${(err as Error).message}`);
    }
  }

  private async parse<T>(res: Response): Promise<T> {
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    const body = text ? safeJson(text) : undefined;
    if (res.ok) return body as T;
    const err = (body as { error?: { code: ErrorCode; message: string; details?: ErrorDetail[]; requestId?: string } })
      ?.error;
    const retryAfter = res.headers.get('retry-after');
    throw new ParleyApiError(
      res.status,
      err?.code ?? 'internal',
      err?.message ?? `HTTP ${res.status}`,
      err?.details ?? [],
      err?.requestId ?? res.headers.get('x-request-id') ?? undefined,
      retryAfter ? Number(retryAfter) : undefined,
    );
  }
}

async function peekCode(res: Response): Promise<string | undefined> {
  try {
    const body = (await res.clone().json()) as { error?: { code?: string } };
    return body.error?.code;
  } catch {
    return undefined;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function toQueryString(query?: Query): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') params.set(k, String(v));
  }
  const s = params.toString();
  return s ? `?${s}` : '';
}
