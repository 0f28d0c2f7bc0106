import { describe, expect, it } from 'vitest'
import { backoffDelay, SseParser } from './sse'

describe('SseParser', () => {
  it('parses the API’s stream: retry, ready, job events and heartbeats', () => {
    const parser = new SseParser()
    const events = parser.push(
      'retry: 3000\n\nevent: ready\ndata: {}\n\nevent: job\ndata: {"id":"j1","overallStatus":"Processing"}\n\n: heartbeat\n\n',
    )
    expect(parser.retryMs).toBe(3000)
    expect(events).toEqual([
      { event: 'ready', data: '{}' },
      { event: 'job', data: '{"id":"j1","overallStatus":"Processing"}' },
    ])
  })

  it('joins events split across chunks at any byte, also between \\r and \\n', () => {
    const stream = 'event: job\r\ndata: {"id":"j1"}\r\n\r\nevent: job-deleted\r\ndata: {"id":"j2"}\r\n\r\n'
    for (let cut = 1; cut < stream.length; cut++) {
      const parser = new SseParser()
      const events = [...parser.push(stream.slice(0, cut)), ...parser.push(stream.slice(cut))]
      expect(events, `cut at ${cut}`).toEqual([
        { event: 'job', data: '{"id":"j1"}' },
        { event: 'job-deleted', data: '{"id":"j2"}' },
      ])
    }
  })

  it('follows the field rules: multi-line data, default event name, no space after the colon', () => {
    const parser = new SseParser()
    expect(parser.push('data:line one\ndata: line two\n\nevent\ndata\n\n\n')).toEqual([
      { event: 'message', data: 'line one\nline two' },
      { event: 'message', data: '' },
    ])
    expect(parser.push('event: job\n\n')).toEqual([]) // no data: no event
    expect(parser.push('retry: soon\n')).toEqual([])
    expect(parser.retryMs).toBeUndefined()
  })
})

describe('backoffDelay', () => {
  it('doubles from the base to the cap, with ±25 % jitter', () => {
    const low = () => 0
    const high = () => 0.999999
    expect(backoffDelay(0, 3000, 30000, low)).toBe(2250)
    expect(backoffDelay(0, 3000, 30000, high)).toBe(3750)
    expect(backoffDelay(1, 3000, 30000, low)).toBe(4500)
    expect(backoffDelay(2, 3000, 30000, low)).toBe(9000)
    expect(backoffDelay(10, 3000, 30000, low)).toBe(22500)
    expect(backoffDelay(10, 3000, 30000, high)).toBe(37500)
  })
})
