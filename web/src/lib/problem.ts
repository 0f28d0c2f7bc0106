// RFC 9457 problem bodies, as every API error is sent (docs/api/openapi.yaml, schema Problem).

export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  traceId?: string
  errors?: Record<string, string[]>
}

const FALLBACK_DETAIL: Record<number, string> = {
  400: 'The request was not accepted.',
  401: 'Please sign in again.',
  403: 'You are not allowed to do this.',
  404: 'It does not exist (any more).',
  409: 'This is not possible in the current state.',
  413: 'The file is too large.',
  415: 'This kind of file is not accepted.',
  422: 'The image could not be processed.',
  429: 'Too many requests; please wait a moment.',
  500: 'Something went wrong on the server.',
  502: 'The server cannot be reached right now.',
  503: 'The service is temporarily unavailable; please try again shortly.',
  504: 'The server took too long to answer.',
}

export function fallbackDetail(status: number): string {
  return FALLBACK_DETAIL[status] ?? (status >= 500 ? FALLBACK_DETAIL[500]! : 'The request failed.')
}

// An error answer of the API, or a network failure (status 0).
export class ApiError extends Error {
  readonly status: number
  readonly title: string
  readonly detail: string
  readonly traceId: string | undefined
  readonly fieldErrors: Record<string, string[]>
  readonly retryAfterSeconds: number | undefined

  constructor(problem: Problem, retryAfterSeconds?: number) {
    super(problem.detail)
    this.name = 'ApiError'
    this.status = problem.status
    this.title = problem.title
    this.detail = problem.detail
    this.traceId = problem.traceId
    this.fieldErrors = problem.errors ?? {}
    this.retryAfterSeconds = retryAfterSeconds
  }

  // The first message for one field (the API's field names: name, email, password, page, ...).
  field(name: string): string | undefined {
    return this.fieldErrors[name]?.[0]
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function fieldErrorsOf(value: unknown): Record<string, string[]> | undefined {
  if (!isRecord(value)) return undefined
  const out: Record<string, string[]> = {}
  for (const [field, messages] of Object.entries(value)) {
    if (Array.isArray(messages)) {
      const texts = messages.filter((m): m is string => typeof m === 'string')
      if (texts.length > 0) out[field] = texts
    } else if (typeof messages === 'string') {
      out[field] = [messages]
    }
  }
  return Object.keys(out).length > 0 ? out : undefined
}

// Reads a problem out of any parsed body; whatever is missing or malformed is filled from the status.
export function toProblem(status: number, body: unknown): Problem {
  const b = isRecord(body) ? body : {}
  const detail = typeof b.detail === 'string' && b.detail.trim() !== '' ? b.detail : fallbackDetail(status)
  const problem: Problem = {
    type: typeof b.type === 'string' ? b.type : 'about:blank',
    title: typeof b.title === 'string' ? b.title : `HTTP ${status}`,
    status,
    detail,
  }
  if (typeof b.traceId === 'string') problem.traceId = b.traceId
  const errors = fieldErrorsOf(b.errors)
  if (errors) problem.errors = errors
  return problem
}

export function parseRetryAfter(header: string | null): number | undefined {
  if (header === null) return undefined
  const seconds = Number.parseInt(header, 10)
  if (Number.isFinite(seconds) && seconds >= 0) return seconds
  const date = Date.parse(header)
  if (Number.isNaN(date)) return undefined
  return Math.max(0, Math.ceil((date - Date.now()) / 1000))
}

// Parses an error response (problem JSON, other JSON, or anything else) into an ApiError.
export async function errorFromResponse(response: Response): Promise<ApiError> {
  let body: unknown = undefined
  const text = await response.text().catch(() => '')
  if (text !== '') {
    try {
      body = JSON.parse(text)
    } catch {
      body = undefined
    }
  }
  return new ApiError(toProblem(response.status, body), parseRetryAfter(response.headers.get('Retry-After')))
}

export function networkError(cause: unknown): ApiError {
  const err = new ApiError({
    type: 'about:blank',
    title: 'Network error',
    status: 0,
    detail: 'The server cannot be reached. Check your connection and try again.',
  })
  ;(err as { cause?: unknown }).cause = cause
  return err
}

// A message for people, whatever was thrown.
export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 429 && error.retryAfterSeconds !== undefined) {
      return `${error.detail.replace(/\s*retry after the time given in Retry-After\.?$/i, '').replace(/;$/, '')}; try again in ${error.retryAfterSeconds} s.`
    }
    return error.detail
  }
  if (error instanceof Error && error.message) return error.message
  return 'Something went wrong.'
}
