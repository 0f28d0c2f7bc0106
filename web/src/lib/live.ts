// Live job updates: one event stream per signed-in tab, applied to the TanStack Query cache. A `job` event
// patches the job in every cached gallery page and open detail at once; then the lists (which may gain or lose
// a job), the statistics and the detail are refetched, coalesced to at most one request per second each, so a
// burst of events stays far below the API's read rate limit.

import { useQueryClient, type QueryClient } from '@tanstack/react-query'
import { useEffect, useState } from 'react'
import type { ApiClient } from './api'
import { useApi, useAuth } from './session'
import { runEventStream, type SseEvent } from './sse'
import type { JobDetail, JobList, JobSummary } from './types'

export type LiveState = 'connecting' | 'open' | 'waiting'

export const queryKeys = {
  jobs: ['jobs'] as const,
  jobList: (page: number, status: string | undefined, q: string | undefined) =>
    ['jobs', 'list', { page, status: status ?? null, q: q ?? '' }] as const,
  stats: ['jobs', 'stats'] as const,
  job: (id: string) => ['job', id] as const,
  admin: ['admin', 'overview'] as const,
}

// Replaces the job in one cached page; true when it was there.
export function patchJobList(list: JobList, summary: JobSummary): { list: JobList; found: boolean } {
  let found = false
  const items = list.items.map((item) => {
    if (item.id !== summary.id) return item
    found = true
    return summary
  })
  return { list: found ? { ...list, items } : list, found }
}

export function removeFromJobList(list: JobList, id: string): { list: JobList; found: boolean } {
  const items = list.items.filter((item) => item.id !== id)
  if (items.length === list.items.length) return { list, found: false }
  return { list: { ...list, items, totalCount: Math.max(0, list.totalCount - 1) }, found: true }
}

// Merges a summary's state into a cached detail, so the badge changes before the refetch lands.
export function patchJobDetail(detail: JobDetail, summary: JobSummary): JobDetail {
  return {
    ...detail,
    status: summary.status,
    aiStatus: summary.aiStatus,
    overallStatus: summary.overallStatus,
    completedAt: summary.completedAt,
  }
}

export class LiveCacheUpdater {
  private timers = new Map<string, ReturnType<typeof setTimeout>>()

  constructor(
    private readonly queryClient: QueryClient,
    private readonly delayMs = 1000,
  ) {}

  private later(key: string, action: () => void) {
    if (this.timers.has(key)) return
    this.timers.set(
      key,
      setTimeout(() => {
        this.timers.delete(key)
        action()
      }, this.delayMs),
    )
  }

  dispose() {
    for (const timer of this.timers.values()) clearTimeout(timer)
    this.timers.clear()
  }

  private refetchLists() {
    this.later('lists', () => void this.queryClient.invalidateQueries({ queryKey: ['jobs', 'list'] }))
  }

  private refetchStats() {
    this.later('stats', () => void this.queryClient.invalidateQueries({ queryKey: queryKeys.stats }))
  }

  apply(event: SseEvent) {
    if (event.event === 'ready' || event.event === 'resync') {
      // Nothing is replayed: whatever happened while disconnected is fetched again.
      this.refetchLists()
      this.refetchStats()
      this.later('details', () => void this.queryClient.invalidateQueries({ queryKey: ['job'] }))
      return
    }
    if (event.event === 'job') {
      let summary: JobSummary
      try {
        summary = JSON.parse(event.data) as JobSummary
      } catch {
        return
      }
      for (const [key, list] of this.queryClient.getQueriesData<JobList>({ queryKey: ['jobs', 'list'] })) {
        if (!list) continue
        const patched = patchJobList(list, summary)
        if (patched.found) this.queryClient.setQueryData(key, patched.list)
      }
      // A new job, or one that may now (not) match a filter or search: the server decides, a moment later.
      this.refetchLists()
      this.refetchStats()
      const detailKey = queryKeys.job(summary.id)
      const detail = this.queryClient.getQueryData<JobDetail>(detailKey)
      if (detail) {
        this.queryClient.setQueryData(detailKey, patchJobDetail(detail, summary))
        this.later(`job:${summary.id}`, () => void this.queryClient.invalidateQueries({ queryKey: detailKey }))
      }
      return
    }
    if (event.event === 'job-deleted') {
      let id: string
      try {
        id = (JSON.parse(event.data) as { id: string }).id
      } catch {
        return
      }
      for (const [key, list] of this.queryClient.getQueriesData<JobList>({ queryKey: ['jobs', 'list'] })) {
        if (!list) continue
        const removed = removeFromJobList(list, id)
        if (removed.found) this.queryClient.setQueryData(key, removed.list)
      }
      this.queryClient.removeQueries({ queryKey: queryKeys.job(id) })
      this.refetchLists()
      this.refetchStats()
    }
  }
}

export function useLiveJobEvents(): LiveState {
  const client: ApiClient = useApi()
  const auth = useAuth()
  const queryClient = useQueryClient()
  const [state, setState] = useState<LiveState>('connecting')
  const userId = auth.status === 'signedIn' ? auth.session.userId : null

  useEffect(() => {
    if (!userId) return
    const controller = new AbortController()
    const updater = new LiveCacheUpdater(queryClient)
    void runEventStream(
      client,
      { onEvent: (event) => updater.apply(event), onStateChange: setState },
      controller.signal,
    )
    return () => {
      controller.abort()
      updater.dispose()
    }
  }, [client, queryClient, userId])

  return state
}
