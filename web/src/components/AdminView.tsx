// The operator's page: jobs by status, queue depths and dead letters, worker heartbeats, schedules with
// "run now", and the recent schedule runs (GET /api/admin/overview, POST /api/admin/schedules/{name}/run).

import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query'
import { useState } from 'react'
import { durationBetween, formatCount, formatDateTime, formatDuration } from '../lib/format'
import { queryKeys } from '../lib/live'
import { ApiError, errorMessage } from '../lib/problem'
import { useApi } from '../lib/session'
import { OVERALL_STATUS_LABEL } from '../lib/status'
import type { AdminOverview, AdminSchedule, OverallStatus } from '../lib/types'
import { ErrorState, Loading } from './States'

export const ADMIN_REFRESH_MS = 5000

export function AdminView() {
  const client = useApi()
  const overview = useQuery({
    queryKey: queryKeys.admin,
    queryFn: ({ signal }) => client.adminOverview(signal),
    refetchInterval: ADMIN_REFRESH_MS,
  })

  if (overview.isPending) return <Loading label="Loading the overview…" />
  if (overview.isError) {
    if (overview.error instanceof ApiError && overview.error.status === 403) {
      return (
        <div className="state state-error" role="alert">
          <p>This page is for administrators.</p>
        </div>
      )
    }
    return <ErrorState error={overview.error} onRetry={() => void overview.refetch()} />
  }
  return <Overview data={overview.data} />
}

function Overview({ data }: { data: AdminOverview }) {
  const overall: OverallStatus[] = ['Processing', 'AiProcessing', 'Completed', 'Error']
  return (
    <div className="admin" data-testid="admin">
      <p className="muted">Updated {formatDateTime(data.generatedAt)} · refreshes every {ADMIN_REFRESH_MS / 1000} s</p>

      <section className="panel" aria-labelledby="admin-jobs">
        <h2 id="admin-jobs">Jobs</h2>
        <div className="stats">
          <div className="stat-card">
            <span className="stat-label">All jobs</span>
            <span className="stat-value">{formatCount(data.jobs.total)}</span>
            <span className="stat-hint">{formatCount(data.jobs.deletedPending)} deletions pending</span>
          </div>
          {overall.map((s) => (
            <div className="stat-card" key={s}>
              <span className="stat-label">{OVERALL_STATUS_LABEL[s]}</span>
              <span className="stat-value">{formatCount(data.jobs.byOverallStatus[s] ?? 0)}</span>
            </div>
          ))}
        </div>
        <div className="table-wrap">
          <table className="table">
            <caption className="visually-hidden">Jobs by stage status</caption>
            <thead>
              <tr>
                <th scope="col">Stage</th>
                {(['Pending', 'Processing', 'Completed', 'Error', 'Skipped'] as const).map((s) => (
                  <th scope="col" key={s}>
                    {s}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              <tr>
                <th scope="row">Image</th>
                {(['Pending', 'Processing', 'Completed', 'Error'] as const).map((s) => (
                  <td key={s}>{formatCount(data.jobs.byStatus[s] ?? 0)}</td>
                ))}
                <td>—</td>
              </tr>
              <tr>
                <th scope="row">AI</th>
                {(['Pending', 'Processing', 'Completed', 'Error', 'Skipped'] as const).map((s) => (
                  <td key={s}>{formatCount(data.jobs.byAiStatus[s] ?? 0)}</td>
                ))}
              </tr>
            </tbody>
          </table>
        </div>
      </section>

      <section className="panel" aria-labelledby="admin-queues">
        <h2 id="admin-queues">Queues</h2>
        {data.queuesError && (
          <p className="notice notice-error" role="alert">
            The broker could not be asked: {data.queuesError}
          </p>
        )}
        {data.queues.length === 0 && !data.queuesError && <p className="muted">No queues reported.</p>}
        {data.queues.length > 0 && (
          <div className="table-wrap">
            <table className="table" data-testid="admin-queues">
              <thead>
                <tr>
                  <th scope="col">Queue</th>
                  <th scope="col">Ready messages</th>
                  <th scope="col">Consumers</th>
                  <th scope="col">Dead-letter queue</th>
                  <th scope="col">Dead letters</th>
                </tr>
              </thead>
              <tbody>
                {data.queues.map((q) => (
                  <tr key={q.name}>
                    <th scope="row">{q.name}</th>
                    <td>{formatCount(q.messages)}</td>
                    <td>{formatCount(q.consumers)}</td>
                    <td>{q.deadLetterQueue}</td>
                    <td className={q.deadLetters > 0 ? 'cell-warn' : ''}>{formatCount(q.deadLetters)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <section className="panel" aria-labelledby="admin-workers">
        <h2 id="admin-workers">Workers</h2>
        {data.workers.length === 0 ? (
          <p className="notice notice-error">No worker has reported in: uploads wait in the queue until one runs.</p>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="admin-workers">
              <thead>
                <tr>
                  <th scope="col">Instance</th>
                  <th scope="col">Kind</th>
                  <th scope="col">State</th>
                  <th scope="col">In flight</th>
                  <th scope="col">Started</th>
                  <th scope="col">Last seen</th>
                </tr>
              </thead>
              <tbody>
                {data.workers.map((w) => (
                  <tr key={w.instance}>
                    <th scope="row">{w.instance}</th>
                    <td>{w.kind}</td>
                    <td>
                      <span className={`badge ${w.alive ? 'badge-completed' : 'badge-error'}`}>
                        {w.alive ? 'alive' : 'silent'}
                      </span>
                    </td>
                    <td>{formatCount(w.inFlight)}</td>
                    <td>{formatDateTime(w.startedAt)}</td>
                    <td>{formatDateTime(w.seenAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <Schedules schedules={data.schedules} />

      <section className="panel" aria-labelledby="admin-runs">
        <h2 id="admin-runs">Recent runs</h2>
        {data.recentRuns.length === 0 ? (
          <p className="muted">No scheduled job has run yet.</p>
        ) : (
          <div className="table-wrap">
            <table className="table" data-testid="admin-runs">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Trigger</th>
                  <th scope="col">Status</th>
                  <th scope="col">Started</th>
                  <th scope="col">Took</th>
                  <th scope="col">Result</th>
                </tr>
              </thead>
              <tbody>
                {data.recentRuns.map((run) => (
                  <tr key={String(run.id)}>
                    <th scope="row">{run.name}</th>
                    <td>{run.trigger}</td>
                    <td>
                      <span className={`badge badge-run-${run.status.toLowerCase()}`}>{run.status}</span>
                    </td>
                    <td>{formatDateTime(run.startedAt)}</td>
                    <td>{formatDuration(durationBetween(run.startedAt, run.finishedAt))}</td>
                    <td>
                      {run.error ? (
                        <span className="upload-error">{run.error}</span>
                      ) : (
                        Object.entries(run.stats ?? {})
                          .map(([k, v]) => `${k}: ${formatCount(v)}`)
                          .join(', ') || '—'
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
    </div>
  )
}

function Schedules({ schedules }: { schedules: AdminSchedule[] }) {
  const client = useApi()
  const queryClient = useQueryClient()
  const [requested, setRequested] = useState<Record<string, string>>({})
  const run = useMutation({
    mutationFn: (name: string) => client.runSchedule(name),
    onSuccess: (answer) => {
      setRequested((r) => ({ ...r, [answer.name]: answer.requestedAt }))
      // A worker picks the run up within seconds; the overview shows it on its next refresh.
      void queryClient.invalidateQueries({ queryKey: queryKeys.admin })
    },
  })
  return (
    <section className="panel" aria-labelledby="admin-schedules">
      <h2 id="admin-schedules">Schedules</h2>
      {run.isError && (
        <p className="upload-error" role="alert">
          {errorMessage(run.error)}
        </p>
      )}
      {schedules.length === 0 ? (
        <p className="muted">No schedules are configured.</p>
      ) : (
        <div className="table-wrap">
          <table className="table" data-testid="admin-schedules">
            <thead>
              <tr>
                <th scope="col">Job</th>
                <th scope="col">Cron (UTC)</th>
                <th scope="col">Next run</th>
                <th scope="col">Last run</th>
                <th scope="col">Last status</th>
                <th scope="col">
                  <span className="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {schedules.map((s) => (
                <tr key={s.name}>
                  <th scope="row">
                    {s.name}
                    {!s.enabled && <span className="muted"> (disabled)</span>}
                  </th>
                  <td>
                    <code>{s.cron}</code>
                  </td>
                  <td>{formatDateTime(s.nextRunAt)}</td>
                  <td>{formatDateTime(s.lastRunAt)}</td>
                  <td>{s.lastStatus ?? '—'}</td>
                  <td>
                    <button
                      type="button"
                      className="button"
                      disabled={run.isPending && run.variables === s.name}
                      onClick={() => run.mutate(s.name)}
                      aria-label={`Run ${s.name} now`}
                    >
                      Run now
                    </button>
                    {requested[s.name] && (
                      <span className="muted" role="status">
                        {' '}
                        requested {formatDateTime(requested[s.name])}
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </section>
  )
}
