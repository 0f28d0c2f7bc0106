import { describe, expect, it } from 'vitest'
import { uploadFailureMessage } from './uploads'
import { ApiError, errorMessage, parseRetryAfter, toProblem } from './problem'

describe('problem bodies', () => {
  it('keeps a well-formed RFC 9457 body', () => {
    expect(
      toProblem(409, {
        type: 'about:blank',
        title: 'Conflict',
        status: 409,
        detail: 'An account with this email already exists.',
        traceId: 'abc',
      }),
    ).toEqual({
      type: 'about:blank',
      title: 'Conflict',
      status: 409,
      detail: 'An account with this email already exists.',
      traceId: 'abc',
    })
  })

  it('fills what is missing from the status and drops malformed field errors', () => {
    expect(toProblem(503, null).detail).toBe('The service is temporarily unavailable; please try again shortly.')
    expect(toProblem(599, 'x').detail).toBe('Something went wrong on the server.')
    const p = toProblem(400, { detail: '', errors: { email: ['bad', 3], name: 'too short', page: [], x: 5 } })
    expect(p.detail).toBe('The request was not accepted.')
    expect(p.errors).toEqual({ email: ['bad'], name: ['too short'] })
  })

  it('reads Retry-After as seconds or as a date', () => {
    expect(parseRetryAfter('12')).toBe(12)
    expect(parseRetryAfter(null)).toBeUndefined()
    expect(parseRetryAfter('soon')).toBeUndefined()
    expect(parseRetryAfter('Thu, 01 Jan 1970 00:00:00 GMT')).toBe(0)
  })

  it('says when to come back after a 429 and keeps the server’s words otherwise', () => {
    const limited = new ApiError(
      toProblem(429, { detail: 'Too many requests; retry after the time given in Retry-After.' }),
      7,
    )
    expect(errorMessage(limited)).toBe('Too many requests; try again in 7 s.')
    expect(uploadFailureMessage(limited)).toBe('Too many requests; try again in 7 s.')
    const tooLarge = new ApiError(toProblem(413, { detail: 'The file exceeds the 50 MiB limit.' }))
    expect(uploadFailureMessage(tooLarge)).toBe('The file exceeds the 50 MiB limit. Choose a smaller file.')
    const undecodable = new ApiError(
      toProblem(422, { detail: 'The image could not be decoded; it may be corrupt or truncated.' }),
    )
    expect(uploadFailureMessage(undecodable)).toBe('The image could not be decoded; it may be corrupt or truncated.')
    const unsupported = new ApiError(toProblem(415, {}))
    expect(uploadFailureMessage(unsupported)).toBe('This kind of file is not accepted.')
    expect(errorMessage(new Error('boom'))).toBe('boom')
    expect(errorMessage(42)).toBe('Something went wrong.')
  })
})
