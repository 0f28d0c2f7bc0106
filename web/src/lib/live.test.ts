import { QueryClient } from '@tanstack/react-query'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { LiveCacheUpdater, queryKeys } from './live'
import { deriveOverallStatus } from './status'
import type { JobDetail, JobList, JobSummary } from './types'

function summary(id: string, status: JobSummary['status'], aiStatus: JobSummary['aiStatus']): JobSummary {
  return {
    id,
    originalFilename: `${id}.jpg`,
    fileSize: 1000,
    status,
    aiStatus,
    overallStatus: deriveOverallStatus(status, aiStatus),
    createdAt: '2026-01-05T10:12:03.481Z',
    completedAt: null,
    width: 800,
    height: 600,
    thumbnailUrl: null,
    blurhash: null,
    tags: [],
  }
}

function list(items: JobSummary[]): JobList {
  return { items, page: 1, pageSize: 12, totalCount: items.length, totalPages: 1 }
}

describe('LiveCacheUpdater', () => {
  let queryClient: QueryClient
  beforeEach(() => {
    vi.useFakeTimers()
    queryClient = new QueryClient()
  })
  afterEach(() => {
    vi.useRealTimers()
    queryClient.clear()
  })

  it('patches a job in every cached page and in its open detail, then asks for fresh data once', () => {
    const all = queryKeys.jobList(1, undefined, undefined)
    const processing = queryKeys.jobList(1, 'Processing', undefined)
    queryClient.setQueryData(all, list([summary('a', 'Pending', 'Pending'), summary('b', 'Completed', 'Completed')]))
    queryClient.setQueryData(processing, list([summary('a', 'Pending', 'Pending')]))
    queryClient.setQueryData(queryKeys.job('a'), { id: 'a', status: 'Pending', aiStatus: 'Pending' } as JobDetail)
    const updater = new LiveCacheUpdater(queryClient)
    const invalidate = vi.spyOn(queryClient, 'invalidateQueries')

    for (const [status, ai] of [
      ['Processing', 'Pending'],
      ['Completed', 'Pending'],
      ['Completed', 'Processing'],
    ] as const) {
      updater.apply({ event: 'job', data: JSON.stringify(summary('a', status, ai)) })
    }
    expect(queryClient.getQueryData<JobList>(all)!.items[0]!.overallStatus).toBe('AiProcessing')
    expect(queryClient.getQueryData<JobList>(processing)!.items[0]!.overallStatus).toBe('AiProcessing')
    expect(queryClient.getQueryData<JobList>(all)!.items[1]!.overallStatus).toBe('Completed')
    const detail = queryClient.getQueryData<JobDetail>(queryKeys.job('a'))!
    expect([detail.status, detail.aiStatus, detail.overallStatus]).toEqual(['Completed', 'Processing', 'AiProcessing'])
    expect(invalidate).not.toHaveBeenCalled()

    vi.runOnlyPendingTimers()
    const keys = invalidate.mock.calls.map((c) => JSON.stringify(c[0]?.queryKey))
    expect(keys.sort()).toEqual([JSON.stringify(['job', 'a']), JSON.stringify(['jobs', 'list']), JSON.stringify(['jobs', 'stats'])].sort())
    updater.dispose()
  })

  it('removes a deleted job at once and refetches lists and stats', () => {
    const all = queryKeys.jobList(1, undefined, undefined)
    queryClient.setQueryData(all, list([summary('a', 'Completed', 'Completed'), summary('b', 'Completed', 'Completed')]))
    queryClient.setQueryData(queryKeys.job('a'), { id: 'a' } as JobDetail)
    const updater = new LiveCacheUpdater(queryClient)
    updater.apply({ event: 'job-deleted', data: '{"id":"a"}' })
    const after = queryClient.getQueryData<JobList>(all)!
    expect(after.items.map((j) => j.id)).toEqual(['b'])
    expect(after.totalCount).toBe(1)
    expect(queryClient.getQueryData(queryKeys.job('a'))).toBeUndefined()
    updater.dispose()
  })

  it('refetches everything after ready/resync and ignores malformed data', () => {
    const updater = new LiveCacheUpdater(queryClient)
    const invalidate = vi.spyOn(queryClient, 'invalidateQueries')
    updater.apply({ event: 'job', data: 'not json' })
    updater.apply({ event: 'job-deleted', data: '{' })
    vi.runOnlyPendingTimers()
    expect(invalidate).not.toHaveBeenCalled()
    updater.apply({ event: 'resync', data: '{}' })
    vi.runOnlyPendingTimers()
    expect(invalidate.mock.calls.map((c) => JSON.stringify(c[0]?.queryKey)).sort()).toEqual(
      [JSON.stringify(['job']), JSON.stringify(['jobs', 'list']), JSON.stringify(['jobs', 'stats'])].sort(),
    )
    updater.dispose()
  })
})
