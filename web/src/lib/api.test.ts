import { describe, expect, it } from 'vitest'
import { ApiClient, uploadImage } from './api'
import { ApiError } from './problem'
import { json, problem, scriptedFetch, SESSION } from './testing'

const STATS = { jobsToday: 1, inProgress: 0, successRate: 1, avgProcessingMs: 412, total: 1 }

function signedIn(fetch: ReturnType<typeof scriptedFetch>['fetch']) {
  const client = new ApiClient({ fetch })
  return client
}

describe('ApiClient', () => {
  it('refreshes once on 401 and retries the request with the new token', async () => {
    const { fetch, calls } = scriptedFetch({
      'POST /api/auth/login': () => json(200, SESSION),
      'GET /api/images/stats': [() => problem(401, 'The access token is invalid or expired.'), () => json(200, STATS)],
      'POST /api/auth/refresh': () => json(200, { ...SESSION, token: 'access-2' }),
    })
    const client = signedIn(fetch)
    await client.login({ email: 'ada@example.com', password: 'pw' })
    expect(await client.stats()).toEqual(STATS)
    expect(calls.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST /api/auth/login',
      'GET /api/images/stats',
      'POST /api/auth/refresh',
      'GET /api/images/stats',
    ])
    expect(calls[1]!.headers.authorization).toBe('Bearer access-1')
    expect(calls[3]!.headers.authorization).toBe('Bearer access-2')
    expect(client.accessToken).toBe('access-2')
  })

  it('does not loop: a second 401 after the refresh ends the session', async () => {
    const { fetch, calls } = scriptedFetch({
      'GET /api/images/stats': () => problem(401, 'The access token is invalid or expired.'),
      'POST /api/auth/refresh': () => json(200, { ...SESSION, token: 'access-2' }),
    })
    const client = signedIn(fetch)
    const sessions: (string | null)[] = []
    client.onSessionChange((s) => sessions.push(s?.token ?? null))
    await expect(client.stats()).rejects.toMatchObject({ status: 401 })
    expect(calls.filter((c) => c.url === '/api/auth/refresh')).toHaveLength(1)
    expect(calls.filter((c) => c.url === '/api/images/stats')).toHaveLength(2)
    expect(sessions).toEqual(['access-2', null])
    expect(client.accessToken).toBeNull()
  })

  it('gives up at once when the refresh cookie is gone', async () => {
    const { fetch, calls } = scriptedFetch({
      'GET /api/auth/me': () => problem(401, 'A bearer access token is required.'),
      'POST /api/auth/refresh': () => problem(401, 'The session has expired; please sign in again.'),
    })
    const client = signedIn(fetch)
    const error = await client.me().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApiError)
    expect((error as ApiError).detail).toBe('A bearer access token is required.')
    expect(calls).toHaveLength(2)
  })

  it('shares one refresh between concurrent 401s (the cookie rotates once)', async () => {
    let release: () => void = () => {}
    const gate = new Promise<void>((r) => (release = r))
    const { fetch, calls } = scriptedFetch({
      'GET /api/images/stats': [
        () => problem(401, 'expired'),
        () => problem(401, 'expired'),
        () => json(200, STATS),
      ],
      'POST /api/auth/refresh': async () => {
        await gate
        return json(200, { ...SESSION, token: 'access-2' })
      },
    })
    const client = signedIn(fetch)
    const both = Promise.all([client.stats(), client.stats()])
    await new Promise((r) => setTimeout(r, 0))
    release()
    expect(await both).toEqual([STATS, STATS])
    expect(calls.filter((c) => c.url === '/api/auth/refresh')).toHaveLength(1)
  })

  it('sends credentials for the refresh cookie and uses the configured base URL', async () => {
    const seen: { url: string; init: RequestInit | undefined }[] = []
    const client = new ApiClient({
      baseUrl: 'https://api.example.com/',
      fetch: async (url, init) => {
        seen.push({ url, init })
        return json(200, SESSION)
      },
    })
    await client.refresh()
    expect(seen[0]!.url).toBe('https://api.example.com/api/auth/refresh')
    expect(seen[0]!.init?.credentials).toBe('include')
    expect(client.assetUrl('/files/processed/x.webp?exp=1&sig=2')).toBe(
      'https://api.example.com/files/processed/x.webp?exp=1&sig=2',
    )
    expect(client.assetUrl('https://bucket.s3.example.com/k?X-Amz-Signature=1')).toBe(
      'https://bucket.s3.example.com/k?X-Amz-Signature=1',
    )
  })

  it('parses validation problems into field errors', async () => {
    const { fetch } = scriptedFetch({
      'POST /api/auth/register': () =>
        json(400, {
          type: 'urn:imageproc:problem:validation',
          title: 'Validation failed',
          status: 400,
          detail: 'One or more fields are invalid.',
          traceId: '5f1d0c7a9e3b4a21',
          errors: {
            email: ['Email must be a valid email address.'],
            password: ['Password must be between 8 and 128 characters.'],
          },
        }),
    })
    const client = signedIn(fetch)
    const error = (await client.register({ name: 'A', email: 'x', password: 'y' }).catch((e: unknown) => e)) as ApiError
    expect(error.status).toBe(400)
    expect(error.traceId).toBe('5f1d0c7a9e3b4a21')
    expect(error.field('email')).toBe('Email must be a valid email address.')
    expect(error.field('password')).toBe('Password must be between 8 and 128 characters.')
    expect(error.field('name')).toBeUndefined()
    expect(client.accessToken).toBeNull()
  })

  it('turns a wrong password into the server’s message and keeps the user signed out', async () => {
    const { fetch, calls } = scriptedFetch({
      'POST /api/auth/login': () => problem(401, 'Invalid email or password.'),
    })
    const client = signedIn(fetch)
    await expect(client.login({ email: 'ada@example.com', password: 'wrong' })).rejects.toMatchObject({
      status: 401,
      detail: 'Invalid email or password.',
    })
    expect(calls).toHaveLength(1) // no refresh attempt for the login itself
  })

  it('copes with error bodies that are not problems, and with network failures', async () => {
    const { fetch } = scriptedFetch({
      'GET /api/images/stats': () => new Response('<html>Bad Gateway</html>', { status: 502 }),
      'GET /api/auth/me': () => {
        throw new TypeError('Failed to fetch')
      },
    })
    const client = signedIn(fetch)
    await expect(client.stats()).rejects.toMatchObject({
      status: 502,
      detail: 'The server cannot be reached right now.',
    })
    await expect(client.me()).rejects.toMatchObject({
      status: 0,
      detail: 'The server cannot be reached. Check your connection and try again.',
    })
  })

  it('builds list queries and answers 204 with nothing', async () => {
    const { fetch, calls } = scriptedFetch({
      'GET /api/images': () => json(200, { items: [], page: 2, pageSize: 12, totalCount: 0, totalPages: 0 }),
      'DELETE /api/images/abc': () => new Response(null, { status: 204 }),
      'POST /api/auth/logout': () => problem(503, 'The database is unavailable; try again shortly.'),
    })
    const client = signedIn(fetch)
    await client.listJobs({ page: 2, status: 'AiProcessing', q: '  invoice  ' })
    expect(calls[0]!.url).toBe('/api/images?page=2&pageSize=12&status=AiProcessing&q=invoice')
    await expect(client.deleteJob('abc')).resolves.toBeUndefined()
    // Signing out forgets the token even when the server cannot be told.
    await expect(client.logout()).rejects.toMatchObject({ status: 503 })
    expect(client.accessToken).toBeNull()
  })
})

// A scripted XMLHttpRequest: each send() answers with the next status/body and reports progress first.
class FakeXhr {
  static answers: { status: number; body: string; headers?: Record<string, string> }[] = []
  static sent: { url: string; auth: string | null; file: string | null }[] = []
  upload: { onprogress: ((e: { lengthComputable: boolean; loaded: number; total: number }) => void) | null } = {
    onprogress: null,
  }
  onload: (() => void) | null = null
  onerror: (() => void) | null = null
  onabort: (() => void) | null = null
  status = 0
  responseText = ''
  private url = ''
  private headers: Record<string, string> = {}
  private responseHeaders: Record<string, string> = {}
  open(_method: string, url: string) {
    this.url = url
  }
  setRequestHeader(name: string, value: string) {
    this.headers[name.toLowerCase()] = value
  }
  getResponseHeader(name: string) {
    return this.responseHeaders[name.toLowerCase()] ?? null
  }
  abort() {
    this.onabort?.()
  }
  send(form: FormData) {
    const file = form.get('file')
    FakeXhr.sent.push({
      url: this.url,
      auth: this.headers.authorization ?? null,
      file: file instanceof File ? file.name : null,
    })
    const answer = FakeXhr.answers.shift()!
    queueMicrotask(() => {
      this.upload.onprogress?.({ lengthComputable: true, loaded: 50, total: 100 })
      this.upload.onprogress?.({ lengthComputable: true, loaded: 100, total: 100 })
      this.status = answer.status
      this.responseText = answer.body
      this.responseHeaders = answer.headers ?? {}
      this.onload?.()
    })
  }
}

const makeXhr = () => new FakeXhr() as unknown as XMLHttpRequest

describe('uploadImage', () => {
  const accepted = { id: 'j1', status: 'Pending', aiStatus: 'Pending', overallStatus: 'Processing', originalUrl: '/files/o' }

  it('reports progress and returns the accepted job', async () => {
    FakeXhr.sent = []
    FakeXhr.answers = [{ status: 202, body: JSON.stringify(accepted) }]
    const { fetch } = scriptedFetch({ 'POST /api/auth/login': () => json(200, SESSION) })
    const client = new ApiClient({ fetch })
    await client.login({ email: 'a@b.cd', password: 'x' })
    const progress: number[] = []
    const handle = uploadImage(client, new File(['x'], 'a.png'), (loaded) => progress.push(loaded), makeXhr)
    expect(await handle.promise).toEqual(accepted)
    expect(progress).toEqual([50, 100])
    expect(FakeXhr.sent).toEqual([{ url: '/api/images/upload', auth: 'Bearer access-1', file: 'a.png' }])
  })

  it('refreshes on 401 and sends the file again', async () => {
    FakeXhr.sent = []
    FakeXhr.answers = [
      { status: 401, body: JSON.stringify({ status: 401, detail: 'The access token is invalid or expired.' }) },
      { status: 202, body: JSON.stringify(accepted) },
    ]
    const { fetch } = scriptedFetch({ 'POST /api/auth/refresh': () => json(200, { ...SESSION, token: 'access-2' }) })
    const client = new ApiClient({ fetch })
    expect(await uploadImage(client, new File(['x'], 'a.png'), () => {}, makeXhr).promise).toEqual(accepted)
    expect(FakeXhr.sent.map((s) => s.auth)).toEqual([null, 'Bearer access-2'])
  })

  it('turns refusals into ApiErrors with the server’s words and Retry-After', async () => {
    FakeXhr.answers = [
      {
        status: 415,
        body: JSON.stringify({
          type: 'about:blank',
          title: 'Unsupported Media Type',
          status: 415,
          detail: 'Only JPEG, PNG, WebP, GIF images are accepted; the file\'s content is not one of them.',
        }),
      },
      {
        status: 429,
        body: JSON.stringify({ status: 429, detail: 'Too many requests; retry after the time given in Retry-After.' }),
        headers: { 'retry-after': '12' },
      },
    ]
    const client = new ApiClient({ fetch: scriptedFetch({}).fetch })
    await expect(uploadImage(client, new File(['x'], 'a.svg'), () => {}, makeXhr).promise).rejects.toMatchObject({
      status: 415,
      detail: "Only JPEG, PNG, WebP, GIF images are accepted; the file's content is not one of them.",
    })
    await expect(uploadImage(client, new File(['x'], 'b.png'), () => {}, makeXhr).promise).rejects.toMatchObject({
      status: 429,
      retryAfterSeconds: 12,
    })
  })
})
