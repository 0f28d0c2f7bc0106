// The user's jobs: a filterable, searchable, paged grid. Filter, search and page live in the URL, so they
// survive a reload and the back button.

import { keepPreviousData, useQuery } from '@tanstack/react-query'
import { Link, useNavigate } from '@tanstack/react-router'
import { useEffect, useState, type FormEvent } from 'react'
import { formatBytes, formatDimensions } from '../lib/format'
import { queryKeys } from '../lib/live'
import { useApi } from '../lib/session'
import { OVERALL_STATUS_LABEL } from '../lib/status'
import { OVERALL_STATUSES, type JobSummary, type OverallStatus } from '../lib/types'
import { BlurhashImage } from './BlurhashImage'
import { EmptyState, ErrorState, Loading } from './States'
import { StatusBadge } from './StatusBadge'

export const PAGE_SIZE = 12

export interface GallerySearch {
  page: number
  status?: OverallStatus | undefined
  q?: string | undefined
}

export function Gallery({ search }: { search: GallerySearch }) {
  const client = useApi()
  const navigate = useNavigate()
  const { page, status, q } = search
  const jobs = useQuery({
    queryKey: queryKeys.jobList(page, status, q),
    queryFn: ({ signal }) => client.listJobs({ page, pageSize: PAGE_SIZE, status, q }, signal),
    placeholderData: keepPreviousData,
  })
  const [text, setText] = useState(q ?? '')
  useEffect(() => setText(q ?? ''), [q])

  const go = (next: Partial<GallerySearch>) =>
    void navigate({ to: '/', search: { status, q, ...next, page: next.page ?? 1 } })

  const onSearch = (event: FormEvent) => {
    event.preventDefault()
    go({ q: text.trim() === '' ? undefined : text.trim() })
  }

  const data = jobs.data
  const filtered = Boolean(status || q)
  return (
    <section className="panel gallery" aria-labelledby="gallery-heading">
      <div className="gallery-header">
        <h2 id="gallery-heading">Your images</h2>
        <div className="gallery-tools">
          <form role="search" onSubmit={onSearch} className="search">
            <label htmlFor="gallery-q" className="visually-hidden">
              Search tags, text and summaries
            </label>
            <input
              id="gallery-q"
              type="search"
              placeholder="Search tags, text, summaries"
              value={text}
              maxLength={200}
              onChange={(e) => setText(e.target.value)}
            />
            <button type="submit" className="button">
              Search
            </button>
          </form>
          <label className="filter">
            <span>Status</span>
            <select
              value={status ?? ''}
              onChange={(e) => go({ status: e.target.value === '' ? undefined : (e.target.value as OverallStatus) })}
            >
              <option value="">All</option>
              {OVERALL_STATUSES.map((s) => (
                <option key={s} value={s}>
                  {OVERALL_STATUS_LABEL[s]}
                </option>
              ))}
            </select>
          </label>
        </div>
      </div>

      {jobs.isPending && <Loading label="Loading your images…" />}
      {jobs.isError && <ErrorState error={jobs.error} onRetry={() => void jobs.refetch()} />}
      {data && data.items.length === 0 && (
        <EmptyState title={filtered ? 'Nothing matches.' : 'No images yet.'}>
          {filtered ? (
            <button type="button" className="button" onClick={() => go({ status: undefined, q: undefined })}>
              Show all images
            </button>
          ) : (
            <p className="muted">Upload one above; its thumbnails, metadata and analysis appear here as they are made.</p>
          )}
        </EmptyState>
      )}
      {data && data.items.length > 0 && (
        <>
          <p className="muted gallery-count" aria-live="polite">
            {data.totalCount} {data.totalCount === 1 ? 'image' : 'images'}
            {filtered ? ' match' : ''}
          </p>
          <ul className="grid" data-testid="gallery">
            {data.items.map((job) => (
              <JobCard key={job.id} job={job} />
            ))}
          </ul>
          {data.totalPages > 1 && (
            <nav className="pager" aria-label="Pages">
              <button type="button" className="button" disabled={page <= 1} onClick={() => go({ page: page - 1, status, q })}>
                ← Newer
              </button>
              <span>
                Page {page} of {data.totalPages}
              </span>
              <button
                type="button"
                className="button"
                disabled={page >= data.totalPages}
                onClick={() => go({ page: page + 1, status, q })}
              >
                Older →
              </button>
            </nav>
          )}
        </>
      )}
    </section>
  )
}

function JobCard({ job }: { job: JobSummary }) {
  const client = useApi()
  return (
    <li className="card" data-testid="job-card" data-job-id={job.id} data-status={job.overallStatus}>
      <Link to="/jobs/$id" params={{ id: job.id }} className="card-link">
        <BlurhashImage
          src={job.thumbnailUrl ? client.assetUrl(job.thumbnailUrl) : null}
          hash={job.blurhash}
          alt={`Thumbnail of ${job.originalFilename}`}
          className="card-image"
        />
        <div className="card-body">
          <div className="card-title-row">
            <span className="card-title" title={job.originalFilename}>
              {job.originalFilename}
            </span>
            <StatusBadge status={job.overallStatus} />
          </div>
          <span className="muted">
            {formatDimensions(job.width, job.height)} · {formatBytes(job.fileSize)}
          </span>
          {job.tags.length > 0 && (
            <ul className="tag-list" aria-label="Tags">
              {job.tags.slice(0, 4).map((tag) => (
                <li key={tag} className="tag">
                  {tag}
                </li>
              ))}
            </ul>
          )}
        </div>
      </Link>
    </li>
  )
}
