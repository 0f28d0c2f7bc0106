// Helpers for the Vitest suites: a scripted fetch that records every call and answers from a list.

import type { FetchLike } from './api'

export interface RecordedCall {
  url: string
  method: string
  headers: Record<string, string>
  body: string | null
}

export type Responder = (call: RecordedCall) => Response | Promise<Response>

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': status >= 400 ? 'application/problem+json' : 'application/json', ...headers },
  })
}

export function problem(status: number, detail: string, extra: Record<string, unknown> = {}): Response {
  return json(status, { type: 'about:blank', title: 'Error', status, detail, traceId: 't-1', ...extra })
}

// Routes "METHOD /path" (path without query) to responders; each key may hold a queue used in order (the last
// answer repeats). Unrouted calls fail the test loudly.
export function scriptedFetch(routes: Record<string, Responder | Responder[]>): {
  fetch: FetchLike
  calls: RecordedCall[]
} {
  const calls: RecordedCall[] = []
  const queues = new Map<string, Responder[]>()
  for (const [key, value] of Object.entries(routes)) queues.set(key, Array.isArray(value) ? [...value] : [value])
  const fetch: FetchLike = async (input, init) => {
    const url = new URL(input, 'http://app.test')
    const headers: Record<string, string> = {}
    new Headers(init?.headers).forEach((v, k) => (headers[k] = v))
    const call: RecordedCall = {
      url: url.pathname + url.search,
      method: (init?.method ?? 'GET').toUpperCase(),
      headers,
      body: typeof init?.body === 'string' ? init.body : null,
    }
    calls.push(call)
    const queue = queues.get(`${call.method} ${url.pathname}`)
    if (!queue || queue.length === 0) throw new Error(`unexpected request ${call.method} ${call.url}`)
    const responder = queue.length > 1 ? queue.shift()! : queue[0]!
    return responder(call)
  }
  return { fetch, calls }
}

export const SESSION = {
  token: 'access-1',
  expiresAt: '2026-01-05T10:27:03Z',
  email: 'ada@example.com',
  name: 'Ada Lovelace',
  userId: '01937b2d-0c11-7aa0-8f3e-2d5b9c0e7a41',
}
