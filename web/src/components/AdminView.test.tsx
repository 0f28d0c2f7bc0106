// @vitest-environment jsdom
import { QueryClient } from '@tanstack/react-query'
import { cleanup, fireEvent, render, screen, waitFor, within } from '@testing-library/react'
import { afterEach, describe, expect, it } from 'vitest'
import { ApiClient } from '../lib/api'
import { AppProviders } from '../lib/session'
import { json, problem, scriptedFetch, SESSION } from '../lib/testing'
import type { AdminOverview } from '../lib/types'
import { AdminView } from './AdminView'

// The contract of GET /api/admin/overview (issue 6), as the backend will send it.
const OVERVIEW: AdminOverview = {
  generatedAt: '2026-01-05T10:12:03.481Z',
  jobs: {
    total: 42,
    byStatus: { Pending: 1, Processing: 2, Completed: 37, Error: 2 },
    byAiStatus: { Pending: 3, Processing: 1, Completed: 30, Error: 1, Skipped: 7 },
    byOverallStatus: { Processing: 3, AiProcessing: 4, Completed: 32, Error: 3 },
    deletedPending: 5,
  },
  queues: [
    { name: 'image-jobs', messages: 7, consumers: 2, deadLetterQueue: 'image-jobs.dead', deadLetters: 0 },
    { name: 'image-ai-jobs', messages: 1, consumers: 2, deadLetterQueue: 'image-ai-jobs.dead', deadLetters: 3 },
  ],
  queuesError: null,
  workers: [
    { instance: 'host-a-101', kind: 'worker', startedAt: '2026-01-05T09:00:00.000Z', seenAt: '2026-01-05T10:12:01.000Z', inFlight: 2, alive: true },
    { instance: 'host-b-202', kind: 'worker', startedAt: '2026-01-04T09:00:00.000Z', seenAt: '2026-01-04T12:00:00.000Z', inFlight: 0, alive: false },
  ],
  schedules: [
    { name: 'cleanup-expired-jobs', cron: '0 3 * * *', enabled: true, nextRunAt: '2026-01-06T03:00:00.000Z', lastRunAt: '2026-01-05T03:00:00.000Z', lastStatus: 'Succeeded' },
    { name: 'recover-stuck-jobs', cron: '*/5 * * * *', enabled: true, nextRunAt: '2026-01-05T10:15:00.000Z', lastRunAt: null, lastStatus: null },
  ],
  recentRuns: [
    { id: 9, name: 'cleanup-expired-jobs', trigger: 'schedule', startedAt: '2026-01-05T03:00:00.000Z', finishedAt: '2026-01-05T03:00:02.500Z', status: 'Succeeded', stats: { jobsDeleted: 12, objectsDeleted: 60 }, error: null },
    { id: 8, name: 'sweep-orphan-objects', trigger: 'manual', startedAt: '2026-01-04T03:00:00.000Z', finishedAt: '2026-01-04T03:00:01.000Z', status: 'Failed', stats: {}, error: 'The object store was unavailable.' },
  ],
}

async function signedInClient(routes: Parameters<typeof scriptedFetch>[0]) {
  const scripted = scriptedFetch({ 'POST /api/auth/login': () => json(200, SESSION), ...routes })
  const client = new ApiClient({ fetch: scripted.fetch })
  await client.login({ email: SESSION.email, password: 'x' })
  return { client, calls: scripted.calls }
}

function renderAdmin(client: ApiClient) {
  const queryClient = new QueryClient({ defaultOptions: { queries: { retry: false } } })
  return render(
    <AppProviders client={client} queryClient={queryClient} bootstrap={false}>
      <AdminView />
    </AppProviders>,
  )
}

afterEach(cleanup)

describe('AdminView', () => {
  it('shows queues with dead letters, workers, schedules and recent runs', async () => {
    const { client } = await signedInClient({ 'GET /api/admin/overview': () => json(200, OVERVIEW) })
    renderAdmin(client)
    const queues = await screen.findByTestId('admin-queues')
    const aiRow = within(queues).getByRole('row', { name: /image-ai-jobs/ })
    expect(aiRow.textContent).toContain('image-ai-jobs.dead')
    expect(within(aiRow).getAllByRole('cell').at(-1)!.textContent).toBe('3')

    const workers = screen.getByTestId('admin-workers')
    expect(within(workers).getByRole('row', { name: /host-a-101/ }).textContent).toContain('alive')
    expect(within(workers).getByRole('row', { name: /host-b-202/ }).textContent).toContain('silent')

    const schedules = screen.getByTestId('admin-schedules')
    expect(within(schedules).getByRole('row', { name: /recover-stuck-jobs/ }).textContent).toContain('*/5 * * * *')

    const runs = screen.getByTestId('admin-runs')
    expect(within(runs).getByRole('row', { name: /cleanup-expired-jobs/ }).textContent).toContain('jobsDeleted: 12')
    expect(within(runs).getByRole('row', { name: /cleanup-expired-jobs/ }).textContent).toContain('2.50 s')
    expect(within(runs).getByRole('row', { name: /sweep-orphan-objects/ }).textContent).toContain(
      'The object store was unavailable.',
    )
    expect(screen.getByText('42')).toBeTruthy()
    expect(screen.getByText('5 deletions pending')).toBeTruthy()
  })

  it('runs a schedule now through POST /api/admin/schedules/{name}/run', async () => {
    const { client, calls } = await signedInClient({
      'GET /api/admin/overview': () => json(200, OVERVIEW),
      'POST /api/admin/schedules/recover-stuck-jobs/run': () =>
        json(202, { name: 'recover-stuck-jobs', requestedAt: '2026-01-05T10:12:05.000Z' }),
    })
    renderAdmin(client)
    fireEvent.click(await screen.findByRole('button', { name: 'Run recover-stuck-jobs now' }))
    await screen.findByText(/requested 5 Jan 2026/)
    const post = calls.find((c) => c.method === 'POST' && c.url.startsWith('/api/admin/schedules/'))
    expect(post?.url).toBe('/api/admin/schedules/recover-stuck-jobs/run')
    expect(post?.headers.authorization).toBe('Bearer access-1')
    // The overview is fetched again so the run shows up.
    await waitFor(() => expect(calls.filter((c) => c.url === '/api/admin/overview').length).toBeGreaterThanOrEqual(2))
  })

  it('shows the server’s words when a schedule is unknown, and the broker error', async () => {
    const { client } = await signedInClient({
      'GET /api/admin/overview': () => json(200, { ...OVERVIEW, queues: [], queuesError: 'RabbitMQ is unreachable.' }),
      'POST /api/admin/schedules/cleanup-expired-jobs/run': () => problem(404, 'No schedule is named cleanup-expired-jobs.'),
    })
    renderAdmin(client)
    expect((await screen.findByRole('alert')).textContent).toContain('RabbitMQ is unreachable.')
    fireEvent.click(screen.getByRole('button', { name: 'Run cleanup-expired-jobs now' }))
    await screen.findByText('No schedule is named cleanup-expired-jobs.')
  })

  it('tells a non-admin that the page is not for them (403)', async () => {
    const { client } = await signedInClient({
      'GET /api/admin/overview': () => problem(403, 'This endpoint is for administrators.'),
    })
    renderAdmin(client)
    expect((await screen.findByRole('alert')).textContent).toBe('This page is for administrators.')
  })
})
