// Server-Sent Events over fetch(), because EventSource cannot send the bearer header. The parser follows the
// WHATWG event-stream rules that the API uses (event, data, retry fields; comments; blank line ends an event).

import type { ApiClient } from './api'
import { errorFromResponse } from './problem'

export interface SseEvent {
  event: string
  data: string
}

export class SseParser {
  private buffer = ''
  private eventName = ''
  private dataLines: string[] = []
  retryMs: number | undefined

  // Feeds decoded text; returns the events completed by it.
  push(chunk: string): SseEvent[] {
    this.buffer += chunk
    const events: SseEvent[] = []
    for (;;) {
      const match = /\r\n|\r|\n/.exec(this.buffer)
      if (!match) break
      // A lone \r at the very end may be the first half of \r\n: wait for more.
      if (match[0] === '\r' && match.index === this.buffer.length - 1) break
      const line = this.buffer.slice(0, match.index)
      this.buffer = this.buffer.slice(match.index + match[0].length)
      const event = this.line(line)
      if (event) events.push(event)
    }
    return events
  }

  private line(line: string): SseEvent | null {
    if (line === '') {
      if (this.dataLines.length === 0) {
        this.eventName = ''
        return null
      }
      const event = { event: this.eventName || 'message', data: this.dataLines.join('\n') }
      this.eventName = ''
      this.dataLines = []
      return event
    }
    if (line.startsWith(':')) return null // comment (heartbeat)
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') this.eventName = value
    else if (field === 'data') this.dataLines.push(value)
    else if (field === 'retry' && /^\d+$/.test(value)) this.retryMs = Number(value)
    return null
  }
}

// Reconnect delays: the server's `retry` (3 s) as the first step, doubling to at most 30 s, with jitter so
// many tabs do not come back at the same instant. Reset once a stream got as far as `ready`.
export function backoffDelay(attempt: number, baseMs = 3000, maxMs = 30000, random = Math.random): number {
  const exp = Math.min(maxMs, baseMs * 2 ** Math.max(0, attempt))
  return Math.round(exp * (0.75 + random() * 0.5))
}

export interface EventStreamHandlers {
  onEvent: (event: SseEvent) => void
  onStateChange?: (state: 'connecting' | 'open' | 'waiting') => void
}

// Keeps one event stream open until `signal` aborts: reconnects with backoff after any failure or end, and
// refreshes the access token (once per attempt) when the stream is refused with 401.
export async function runEventStream(client: ApiClient, handlers: EventStreamHandlers, signal: AbortSignal) {
  let attempt = 0
  let baseMs = 3000
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms)
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer)
          resolve()
        },
        { once: true },
      )
    })

  while (!signal.aborted) {
    handlers.onStateChange?.('connecting')
    let reachedReady = false
    try {
      let response = await open(client, signal)
      if (response.status === 401 && (await client.refresh())) response = await open(client, signal)
      if (response.status === 401) return // signed out: the app's auth state takes over
      if (!response.ok || !response.body) throw await errorFromResponse(response)
      const parser = new SseParser()
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      try {
        for (;;) {
          const { value, done } = await reader.read()
          if (done) break
          for (const event of parser.push(value)) {
            if (event.event === 'ready') {
              reachedReady = true
              attempt = 0
              handlers.onStateChange?.('open')
            }
            handlers.onEvent(event)
          }
          if (parser.retryMs !== undefined) baseMs = parser.retryMs
        }
      } finally {
        reader.releaseLock()
      }
    } catch (error) {
      if (signal.aborted) return
      // Network errors, 5xx, 429: wait and try again.
      void error
    }
    if (signal.aborted) return
    handlers.onStateChange?.('waiting')
    await sleep(backoffDelay(reachedReady ? 0 : attempt, baseMs))
    attempt = reachedReady ? 0 : attempt + 1
  }
}

function open(client: ApiClient, signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' }
  const token = client.accessToken
  if (token) headers.Authorization = `Bearer ${token}`
  return fetch(client.url('/api/images/events'), { headers, signal, credentials: 'include', cache: 'no-store' })
}
