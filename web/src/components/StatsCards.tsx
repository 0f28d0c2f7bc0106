import { useQuery } from '@tanstack/react-query'
import { formatCount, formatDuration, formatPercent } from '../lib/format'
import { queryKeys } from '../lib/live'
import { useApi } from '../lib/session'

export function StatsCards() {
  const client = useApi()
  const stats = useQuery({ queryKey: queryKeys.stats, queryFn: ({ signal }) => client.stats(signal) })
  const s = stats.data
  const cards = [
    { label: 'Images', value: s ? formatCount(s.total) : '…', hint: 'all yours' },
    { label: 'Today', value: s ? formatCount(s.jobsToday) : '…', hint: 'since 00:00 UTC' },
    { label: 'In progress', value: s ? formatCount(s.inProgress) : '…', hint: 'image or AI stage' },
    { label: 'Success rate', value: s ? formatPercent(s.successRate) : '…', hint: 'image stage' },
    { label: 'Avg. processing', value: s ? formatDuration(s.avgProcessingMs) : '…', hint: 'image stage' },
  ]
  return (
    <section aria-label="Statistics" className="stats" data-testid="stats">
      {stats.isError && (
        <p className="upload-error" role="alert">
          The statistics could not be loaded.
        </p>
      )}
      {cards.map((card) => (
        <div key={card.label} className="stat-card">
          <span className="stat-label">{card.label}</span>
          <span className="stat-value">{card.value}</span>
          <span className="stat-hint">{card.hint}</span>
        </div>
      ))}
    </section>
  )
}
