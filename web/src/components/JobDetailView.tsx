// Everything about one job: preview, every output against the original, metadata, the AI analysis and the
// stage timeline, with retry and delete.

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { Link, useNavigate } from '@tanstack/react-router'
import { useState } from 'react'
import {
  durationBetween,
  formatBytes,
  formatCoordinate,
  formatCount,
  formatDateTime,
  formatDimensions,
  formatDuration,
  formatExifValue,
  formatOrientation,
  formatSaving,
  formatUsd,
} from '../lib/format'
import { queryKeys } from '../lib/live'
import { ApiError, errorMessage } from '../lib/problem'
import { useApi } from '../lib/session'
import { optimisticRetryState } from '../lib/status'
import type { AiAnalysis, JobDetail, JobOutput } from '../lib/types'
import { BlurhashImage } from './BlurhashImage'
import { ConfirmDialog } from './ConfirmDialog'
import { ErrorState, Loading } from './States'
import { StageBadge, StatusBadge } from './StatusBadge'

export function JobDetailView({ id }: { id: string }) {
  const client = useApi()
  const job = useQuery({ queryKey: queryKeys.job(id), queryFn: ({ signal }) => client.job(id, signal) })

  if (job.isPending) return <Loading label="Loading the image…" />
  if (job.isError) {
    if (job.error instanceof ApiError && job.error.status === 404) {
      return (
        <div className="state state-empty" role="alert">
          <p className="state-title">This image does not exist (any more).</p>
          <Link to="/" search={{ page: 1 }} className="button">
            Back to the gallery
          </Link>
        </div>
      )
    }
    return <ErrorState error={job.error} onRetry={() => void job.refetch()} />
  }
  return <Detail job={job.data} />
}

function Detail({ job }: { job: JobDetail }) {
  const client = useApi()
  const queryClient = useQueryClient()
  const navigate = useNavigate()
  const [confirming, setConfirming] = useState(false)

  const retry = useMutation({
    mutationFn: () => client.retryJob(job.id),
    // The badge and timeline change at once; the server's answer (and then its events) confirm it.
    onMutate: () => {
      const key = queryKeys.job(job.id)
      const before = queryClient.getQueryData<JobDetail>(key)
      const next = before ? optimisticRetryState(before.status, before.aiStatus) : null
      if (before && next) queryClient.setQueryData<JobDetail>(key, { ...before, ...next })
      return { before }
    },
    onError: (_error, _vars, context) => {
      if (context?.before) queryClient.setQueryData(queryKeys.job(job.id), context.before)
    },
    onSuccess: (accepted) => {
      queryClient.setQueryData<JobDetail>(queryKeys.job(job.id), (d) => (d ? { ...d, ...accepted } : d))
      void queryClient.invalidateQueries({ queryKey: queryKeys.job(job.id) })
      void queryClient.invalidateQueries({ queryKey: queryKeys.jobs })
    },
  })
  const remove = useMutation({
    mutationFn: () => client.deleteJob(job.id),
    onSuccess: () => {
      setConfirming(false)
      queryClient.removeQueries({ queryKey: queryKeys.job(job.id) })
      void queryClient.invalidateQueries({ queryKey: queryKeys.jobs })
      void navigate({ to: '/', search: { page: 1 } })
    },
  })
  const canRetry = optimisticRetryState(job.status, job.aiStatus) !== null
  const preview = job.thumbnails['thumb-1024'] ?? job.optimized.webp ?? null

  return (
    <article className="detail" data-testid="job-detail" data-status={job.overallStatus} aria-labelledby="detail-title">
      <nav className="breadcrumb" aria-label="Breadcrumb">
        <Link to="/" search={{ page: 1 }}>
          ← Gallery
        </Link>
      </nav>
      <header className="detail-header">
        <div>
          <h1 id="detail-title" className="detail-title">
            {job.originalFilename}
          </h1>
          <p className="muted">
            Uploaded {formatDateTime(job.createdAt)} · {formatBytes(job.fileSize)} · {job.mimeType}
          </p>
        </div>
        <div className="detail-actions">
          <StatusBadge status={job.overallStatus} />
          {canRetry && (
            <button type="button" className="button" onClick={() => retry.mutate()} disabled={retry.isPending}>
              {retry.isPending ? 'Retrying…' : 'Retry failed stage'}
            </button>
          )}
          <button type="button" className="button button-danger" onClick={() => setConfirming(true)}>
            Delete
          </button>
        </div>
      </header>
      {retry.isError && (
        <p className="upload-error" role="alert">
          {errorMessage(retry.error)}
        </p>
      )}
      {remove.isError && (
        <p className="upload-error" role="alert">
          {errorMessage(remove.error)}
        </p>
      )}
      {job.errorMessage && (
        <p className={job.status === 'Error' ? 'notice notice-error' : 'notice'} role="status">
          Image stage: {job.errorMessage}
        </p>
      )}

      <div className="detail-grid">
        <section className="panel preview" aria-label="Preview">
          {preview || job.metadata?.blurhash ? (
            <BlurhashImage
              src={preview ? client.assetUrl(preview) : null}
              hash={job.metadata?.blurhash ?? null}
              alt={`Preview of ${job.originalFilename}`}
              className="preview-image"
              eager
            />
          ) : (
            <div className="preview-pending">
              {job.status === 'Error' ? 'No preview: the image stage failed.' : 'The thumbnails are being made…'}
            </div>
          )}
          <p>
            <a href={client.assetUrl(job.originalUrl)} target="_blank" rel="noreferrer noopener">
              Open the original
            </a>
          </p>
        </section>
        <Timeline job={job} />
      </div>

      <Outputs job={job} />
      <Metadata job={job} />
      <AiSection job={job} />

      <ConfirmDialog
        open={confirming}
        title="Delete this image?"
        message={`"${job.originalFilename}", its thumbnails, optimized version and analysis will be removed for good.`}
        confirmLabel="Delete"
        busy={remove.isPending}
        onConfirm={() => remove.mutate()}
        onCancel={() => setConfirming(false)}
      />
    </article>
  )
}

function Timeline({ job }: { job: JobDetail }) {
  const queued = durationBetween(job.createdAt, job.startedAt)
  const imageTime = durationBetween(job.startedAt, job.completedAt)
  const aiQueued = durationBetween(job.completedAt, job.aiStartedAt)
  const aiTime = durationBetween(job.aiStartedAt, job.aiCompletedAt)
  const total = durationBetween(job.createdAt, job.aiCompletedAt ?? job.completedAt)
  const steps = [
    { label: 'Uploaded', at: job.createdAt, note: null as string | null, state: 'done' },
    {
      label: 'Image stage started',
      at: job.startedAt,
      note: queued !== null ? `after ${formatDuration(queued)} in the queue` : null,
      state: job.startedAt ? 'done' : 'waiting',
    },
    {
      label: job.status === 'Error' ? 'Image stage failed' : 'Image stage finished',
      at: job.completedAt,
      note: imageTime !== null ? `took ${formatDuration(imageTime)}` : null,
      state: job.status === 'Error' ? 'error' : job.completedAt ? 'done' : 'waiting',
    },
    {
      label: 'AI analysis started',
      at: job.aiStartedAt,
      note: aiQueued !== null ? `after ${formatDuration(aiQueued)} in the queue` : null,
      state: job.aiStartedAt ? 'done' : job.aiStatus === 'Skipped' ? 'skipped' : 'waiting',
    },
    {
      label:
        job.aiStatus === 'Error' ? 'AI analysis failed' : job.aiStatus === 'Skipped' ? 'AI analysis skipped' : 'AI analysis finished',
      at: job.aiCompletedAt,
      note: aiTime !== null ? `took ${formatDuration(aiTime)}` : null,
      state:
        job.aiStatus === 'Error' ? 'error' : job.aiStatus === 'Skipped' ? 'skipped' : job.aiCompletedAt ? 'done' : 'waiting',
    },
  ]
  return (
    <section className="panel timeline" aria-labelledby="timeline-heading">
      <h2 id="timeline-heading">Timeline</h2>
      <p className="stage-line">
        Image stage <StageBadge status={job.status} /> AI stage <StageBadge status={job.aiStatus} />
      </p>
      <ol className="steps" data-testid="timeline">
        {steps.map((step) => (
          <li key={step.label} className={`step step-${step.state}`}>
            <span className="step-label">{step.label}</span>
            <span className="muted">
              {step.at ? formatDateTime(step.at) : step.state === 'skipped' ? '—' : 'pending'}
              {step.note ? ` · ${step.note}` : ''}
            </span>
          </li>
        ))}
      </ol>
      {total !== null && job.overallStatus === 'Completed' && (
        <p className="muted">Upload to finished: {formatDuration(total)}</p>
      )}
      {(job.retryCount > 0 || job.aiRetryCount > 0) && (
        <p className="muted">
          Automatic retries: image {job.retryCount}, AI {job.aiRetryCount}
        </p>
      )}
    </section>
  )
}

function Outputs({ job }: { job: JobDetail }) {
  const client = useApi()
  const rows: (JobOutput & { original?: boolean })[] = [
    {
      name: 'original',
      format: job.metadata?.format ?? job.mimeType.replace('image/', ''),
      width: job.metadata?.width ?? 0,
      height: job.metadata?.height ?? 0,
      bytes: job.fileSize,
      url: job.originalUrl,
      original: true,
    },
    ...job.outputs,
  ]
  return (
    <section className="panel" aria-labelledby="outputs-heading">
      <h2 id="outputs-heading">Outputs</h2>
      {job.outputs.length === 0 && (
        <p className="muted">{job.status === 'Error' ? 'No outputs: the image stage failed.' : 'The outputs are being made…'}</p>
      )}
      <div className="table-wrap">
        <table className="table" data-testid="outputs">
          <thead>
            <tr>
              <th scope="col">Output</th>
              <th scope="col">Format</th>
              <th scope="col">Dimensions</th>
              <th scope="col">Size</th>
              <th scope="col">vs. original</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.name}>
                <th scope="row">
                  <a href={client.assetUrl(row.url)} target="_blank" rel="noreferrer noopener">
                    {row.name}
                  </a>
                </th>
                <td>{row.format}</td>
                <td>{formatDimensions(row.width, row.height)}</td>
                <td>{formatBytes(row.bytes)}</td>
                <td>{row.original ? '—' : formatSaving(row.bytes, job.fileSize)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {job.outputs.length > 0 && (
        <div className="thumb-strip" aria-label="Thumbnails">
          {job.outputs
            .filter((o) => o.name.startsWith('thumb-'))
            .map((o) => (
              <figure key={o.name}>
                <img
                  src={client.assetUrl(o.url)}
                  alt={`${o.name} of ${job.originalFilename}`}
                  width={Math.min(o.width, 128)}
                  height={Math.round((Math.min(o.width, 128) / Math.max(o.width, 1)) * o.height)}
                  data-testid="output-thumb"
                />
                <figcaption className="muted">{o.name}</figcaption>
              </figure>
            ))}
        </div>
      )}
    </section>
  )
}

function Metadata({ job }: { job: JobDetail }) {
  const m = job.metadata
  if (!m) {
    return (
      <section className="panel" aria-labelledby="metadata-heading">
        <h2 id="metadata-heading">Metadata</h2>
        <p className="muted">{job.status === 'Error' ? 'Not available: the image stage failed.' : 'Read by the image stage…'}</p>
      </section>
    )
  }
  const exif = Object.entries(m.exif ?? {}).sort(([a], [b]) => a.localeCompare(b))
  return (
    <section className="panel" aria-labelledby="metadata-heading">
      <h2 id="metadata-heading">Metadata</h2>
      <dl className="facts">
        <dt>Dimensions</dt>
        <dd>{formatDimensions(m.width, m.height)} px</dd>
        <dt>Format</dt>
        <dd>{m.format.toUpperCase()}</dd>
        <dt>File size</dt>
        <dd>{formatBytes(m.fileSize)}</dd>
        <dt>Orientation</dt>
        <dd>{formatOrientation(m.orientation)}</dd>
        <dt>Colour space</dt>
        <dd>{m.colorSpace}</dd>
        <dt>Transparency</dt>
        <dd>{m.hasAlpha ? 'Yes' : 'No'}</dd>
        {m.frames !== undefined && m.frames > 1 && (
          <>
            <dt>Frames</dt>
            <dd>{m.frames} (the first is processed)</dd>
          </>
        )}
        <dt>Perceptual hash</dt>
        <dd>
          <code>{m.phash}</code>
        </dd>
        {m.gps && (
          <>
            <dt>Location</dt>
            <dd data-testid="gps">
              {formatCoordinate(m.gps.lat, 'N', 'S')}, {formatCoordinate(m.gps.lon, 'E', 'W')}{' '}
              <span className="muted">(only you can see this; it is not in the outputs)</span>
            </dd>
          </>
        )}
      </dl>
      <h3>Dominant colours</h3>
      <ul className="swatches" aria-label="Dominant colours">
        {m.dominantColors.map((colour) => (
          <li key={colour} className="swatch">
            <span className="swatch-colour" style={{ backgroundColor: colour }} aria-hidden="true" />
            <code>{colour}</code>
          </li>
        ))}
      </ul>
      <h3>EXIF</h3>
      {exif.length === 0 ? (
        <p className="muted">The original has no EXIF data.</p>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="exif">
            <thead>
              <tr>
                <th scope="col">Tag</th>
                <th scope="col">Value</th>
              </tr>
            </thead>
            <tbody>
              {exif.map(([tag, value]) => (
                <tr key={tag}>
                  <th scope="row">{tag}</th>
                  <td>{formatExifValue(value)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}

function AiSection({ job }: { job: JobDetail }) {
  return (
    <section className="panel" aria-labelledby="ai-heading" data-testid="ai">
      <h2 id="ai-heading">AI analysis</h2>
      {job.aiAnalysis ? (
        <Analysis analysis={job.aiAnalysis} />
      ) : job.aiStatus === 'Skipped' ? (
        <p className="muted">Skipped: {job.aiErrorMessage ?? 'no reason given.'}</p>
      ) : job.aiStatus === 'Error' ? (
        <p className="notice notice-error">{job.aiErrorMessage ?? 'The analysis failed.'}</p>
      ) : (
        <p className="muted">
          {job.status === 'Completed' ? 'Analysing…' : 'Starts once the image stage has finished.'}
          {job.aiErrorMessage ? ` ${job.aiErrorMessage}` : ''}
        </p>
      )}
    </section>
  )
}

function Analysis({ analysis }: { analysis: AiAnalysis }) {
  const [copied, setCopied] = useState<'idle' | 'copied' | 'failed'>('idle')
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(analysis.ocrText ?? '')
      setCopied('copied')
    } catch {
      setCopied('failed')
    }
  }
  const { meta, safety } = analysis
  return (
    <>
      <p className="summary" data-testid="ai-summary">
        {analysis.summary}
      </p>
      <h3>Tags</h3>
      {analysis.tags.length === 0 ? (
        <p className="muted">No tags.</p>
      ) : (
        <ul className="confidence-list" data-testid="ai-tags">
          {analysis.tags.map((tag) => (
            <li key={tag.label}>
              <span className="confidence-label">{tag.label}</span>
              <meter min={0} max={1} value={tag.confidence} aria-label={`${tag.label} confidence`} />
              <span className="muted">{Math.round(tag.confidence * 100)} %</span>
            </li>
          ))}
        </ul>
      )}
      <h3>Text in the image</h3>
      {analysis.ocrText ? (
        <div className="ocr">
          <pre data-testid="ocr-text">{analysis.ocrText}</pre>
          <button type="button" className="button" onClick={() => void copy()}>
            {copied === 'copied' ? 'Copied' : 'Copy text'}
          </button>
          <span role="status" className="muted">
            {copied === 'copied' ? 'The text is on the clipboard.' : copied === 'failed' ? 'Copying is not allowed here.' : ''}
          </span>
        </div>
      ) : (
        <p className="muted">No text found.</p>
      )}
      <h3>Safety</h3>
      {safety ? (
        <ul className="flags" data-testid="safety">
          <li>Adult content: {safety.adult ? 'yes' : 'no'}</li>
          <li>Violence: {safety.violence ? 'yes' : 'no'}</li>
          <li>Self-harm: {safety.selfHarm ? 'yes' : 'no'}</li>
        </ul>
      ) : (
        <p className="muted" data-testid="safety">
          Not assessed by this provider.
        </p>
      )}
      <h3>How it was made</h3>
      <dl className="facts" data-testid="ai-meta">
        <dt>Provider</dt>
        <dd>{meta.provider}</dd>
        <dt>Model</dt>
        <dd>{meta.model}</dd>
        <dt>Latency</dt>
        <dd>{formatDuration(meta.latencyMs)}</dd>
        <dt>Tokens</dt>
        <dd>
          {meta.inputTokens === null && meta.outputTokens === null
            ? 'not counted'
            : `${formatCount(meta.inputTokens)} in · ${formatCount(meta.outputTokens)} out`}
        </dd>
        <dt>Cost</dt>
        <dd>{formatUsd(meta.estimatedCostUsd)}</dd>
      </dl>
    </>
  )
}
