import { OVERALL_STATUS_LABEL, STAGE_STATUS_LABEL } from '../lib/status'
import type { AiStatus, OverallStatus } from '../lib/types'

export function StatusBadge({ status }: { status: OverallStatus }) {
  return (
    <span className={`badge badge-${status.toLowerCase()}`} data-status={status}>
      {(status === 'Processing' || status === 'AiProcessing') && <span className="spinner" aria-hidden="true" />}
      {OVERALL_STATUS_LABEL[status]}
    </span>
  )
}

export function StageBadge({ status }: { status: AiStatus }) {
  return (
    <span className={`badge badge-stage-${status.toLowerCase()}`} data-stage-status={status}>
      {STAGE_STATUS_LABEL[status]}
    </span>
  )
}
