// The one typed client of the ImageProcessor API. The access token lives in memory only; the refresh token is
// the API's HttpOnly cookie (Path=/api/auth), which `POST /api/auth/refresh` exchanges for a new pair. A request
// answered 401 triggers one refresh (shared by every request waiting at that moment) and is retried once.

import { ApiError, errorFromResponse, networkError } from './problem'
import type {
  AdminOverview,
  AuthSession,
  JobDetail,
  JobList,
  JobStats,
  OverallStatus,
  Profile,
  RetryAccepted,
  ScheduleRunRequested,
  UploadAccepted,
} from './types'

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>

export interface ApiClientOptions {
  // '' for the same origin (the app served by `imageproc api`), else e.g. https://api.example.com
  baseUrl?: string
  fetch?: FetchLike
}

export interface ListQuery {
  page?: number
  pageSize?: number
  status?: OverallStatus | undefined
  q?: string | undefined
}

interface RequestOptions {
  method?: string
  body?: unknown
  auth?: boolean // send the bearer token and refresh on 401 (default true)
  signal?: AbortSignal | undefined
}

export type SessionListener = (session: AuthSession | null) => void

export function normalizeBaseUrl(url: string | undefined): string {
  return (url ?? '').trim().replace(/\/+$/, '')
}

export class ApiClient {
  readonly baseUrl: string
  private readonly fetchImpl: FetchLike
  private session: AuthSession | null = null
  private refreshInFlight: Promise<AuthSession | null> | null = null
  private readonly listeners = new Set<SessionListener>()

  constructor(options: ApiClientOptions = {}) {
    this.baseUrl = normalizeBaseUrl(options.baseUrl)
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init))
  }

  url(path: string): string {
    return this.baseUrl + path
  }

  // Image URLs from the API are signed; relative ones (/files/...) belong to the API's origin.
  assetUrl(url: string): string {
    return url.startsWith('/') ? this.baseUrl + url : url
  }

  get accessToken(): string | null {
    return this.session?.token ?? null
  }

  get currentSession(): AuthSession | null {
    return this.session
  }

  onSessionChange(listener: SessionListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private setSession(session: AuthSession | null) {
    this.session = session
    for (const listener of this.listeners) listener(session)
  }

  // Exchanges the refresh cookie for a new access token; null when there is no valid session. Concurrent
  // callers share one request, so a burst of 401s rotates the cookie once (a second rotation with the
  // already-rotated token would look like theft to the server and end the session).
  refresh(): Promise<AuthSession | null> {
    if (!this.refreshInFlight) {
      this.refreshInFlight = this.doRefresh().finally(() => {
        this.refreshInFlight = null
      })
    }
    return this.refreshInFlight
  }

  private async doRefresh(): Promise<AuthSession | null> {
    let response: Response
    try {
      response = await this.fetchImpl(this.url('/api/auth/refresh'), { method: 'POST', credentials: 'include' })
    } catch (cause) {
      throw networkError(cause)
    }
    if (response.status === 401) {
      this.setSession(null)
      return null
    }
    if (!response.ok) throw await errorFromResponse(response)
    const session = (await response.json()) as AuthSession
    this.setSession(session)
    return session
  }

  async request<T>(path: string, options: RequestOptions = {}): Promise<T> {
    const auth = options.auth ?? true
    const send = async (): Promise<Response> => {
      const headers: Record<string, string> = { Accept: 'application/json' }
      if (options.body !== undefined) headers['Content-Type'] = 'application/json'
      const token = this.accessToken
      if (auth && token) headers.Authorization = `Bearer ${token}`
      try {
        return await this.fetchImpl(this.url(path), {
          method: options.method ?? 'GET',
          headers,
          body: options.body === undefined ? null : JSON.stringify(options.body),
          credentials: 'include',
          signal: options.signal ?? null,
        })
      } catch (cause) {
        if (cause instanceof DOMException && cause.name === 'AbortError') throw cause
        throw networkError(cause)
      }
    }

    let response = await send()
    if (response.status === 401 && auth) {
      const renewed = await this.refresh()
      if (!renewed) throw await errorFromResponse(response)
      response = await send()
      if (response.status === 401) this.setSession(null)
    }
    if (!response.ok) throw await errorFromResponse(response)
    if (response.status === 204) return undefined as T
    const text = await response.text()
    return (text === '' ? undefined : JSON.parse(text)) as T
  }

  // ---- auth ----

  async register(input: { name: string; email: string; password: string }): Promise<AuthSession> {
    const session = await this.request<AuthSession>('/api/auth/register', { method: 'POST', body: input, auth: false })
    this.setSession(session)
    return session
  }

  async login(input: { email: string; password: string }): Promise<AuthSession> {
    const session = await this.request<AuthSession>('/api/auth/login', { method: 'POST', body: input, auth: false })
    this.setSession(session)
    return session
  }

  // Ends the session on the server (the refresh family is revoked) and forgets the token here, even when
  // the server cannot be reached.
  async logout(): Promise<void> {
    try {
      await this.request<void>('/api/auth/logout', { method: 'POST', auth: false })
    } finally {
      this.setSession(null)
    }
  }

  me(): Promise<Profile> {
    return this.request<Profile>('/api/auth/me')
  }

  // ---- images ----

  listJobs(query: ListQuery = {}, signal?: AbortSignal): Promise<JobList> {
    const params = new URLSearchParams()
    params.set('page', String(query.page ?? 1))
    params.set('pageSize', String(query.pageSize ?? 12))
    if (query.status) params.set('status', query.status)
    if (query.q && query.q.trim() !== '') params.set('q', query.q.trim())
    return this.request<JobList>(`/api/images?${params.toString()}`, { signal })
  }

  stats(signal?: AbortSignal): Promise<JobStats> {
    return this.request<JobStats>('/api/images/stats', { signal })
  }

  job(id: string, signal?: AbortSignal): Promise<JobDetail> {
    return this.request<JobDetail>(`/api/images/${encodeURIComponent(id)}`, { signal })
  }

  deleteJob(id: string): Promise<void> {
    return this.request<void>(`/api/images/${encodeURIComponent(id)}`, { method: 'DELETE' })
  }

  retryJob(id: string): Promise<RetryAccepted> {
    return this.request<RetryAccepted>(`/api/images/${encodeURIComponent(id)}/retry`, { method: 'POST' })
  }

  // ---- admin ----

  adminOverview(signal?: AbortSignal): Promise<AdminOverview> {
    return this.request<AdminOverview>('/api/admin/overview', { signal })
  }

  runSchedule(name: string): Promise<ScheduleRunRequested> {
    return this.request<ScheduleRunRequested>(`/api/admin/schedules/${encodeURIComponent(name)}/run`, {
      method: 'POST',
    })
  }
}

export { ApiError }

// A multipart upload with progress events. fetch() cannot report upload progress, so this is XMLHttpRequest;
// a 401 gets the same single refresh-and-retry as every other request.
export interface UploadHandle {
  promise: Promise<UploadAccepted>
  abort: () => void
}

export type XhrFactory = () => XMLHttpRequest

export function uploadImage(
  client: ApiClient,
  file: File,
  onProgress: (loaded: number, total: number) => void,
  makeXhr: XhrFactory = () => new XMLHttpRequest(),
): UploadHandle {
  let current: XMLHttpRequest | null = null
  let aborted = false

  const attempt = () =>
    new Promise<{ status: number; body: string; retryAfter: string | null }>((resolve, reject) => {
      const xhr = makeXhr()
      current = xhr
      xhr.open('POST', client.url('/api/images/upload'))
      const token = client.accessToken
      if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
      xhr.setRequestHeader('Accept', 'application/json')
      xhr.upload.onprogress = (event) => {
        if (event.lengthComputable) onProgress(event.loaded, event.total)
      }
      xhr.onload = () =>
        resolve({ status: xhr.status, body: xhr.responseText, retryAfter: xhr.getResponseHeader('Retry-After') })
      xhr.onerror = () => reject(networkError(new Error('upload failed')))
      xhr.onabort = () => reject(new DOMException('The upload was cancelled.', 'AbortError'))
      const form = new FormData()
      form.append('file', file, file.name)
      xhr.send(form)
    })

  const toResult = (r: { status: number; body: string; retryAfter: string | null }): UploadAccepted => {
    if (r.status >= 200 && r.status < 300) return JSON.parse(r.body) as UploadAccepted
    const headers = new Headers()
    if (r.retryAfter !== null) headers.set('Retry-After', r.retryAfter)
    throw new ResponseError(r.status, r.body, headers)
  }

  const promise = (async () => {
    let result = await attempt()
    if (result.status === 401 && !aborted) {
      const renewed = await client.refresh()
      if (renewed) result = await attempt()
    }
    try {
      return toResult(result)
    } catch (e) {
      if (e instanceof ResponseError) throw await errorFromResponse(e.toResponse())
      throw e
    }
  })()

  return {
    promise,
    abort: () => {
      aborted = true
      current?.abort()
    },
  }
}

class ResponseError extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
    readonly headers: Headers,
  ) {
    super(`HTTP ${status}`)
  }
  toResponse(): Response {
    // Response() refuses a body with some statuses; none of those (1xx, 204, 205, 304) is an error.
    return new Response(this.body, { status: this.status, headers: this.headers })
  }
}

export function createApiClient(): ApiClient {
  return new ApiClient({ baseUrl: import.meta.env.VITE_API_BASE_URL })
}
