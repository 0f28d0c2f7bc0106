// The overall status of a job, by the same rule as the server (src/contracts/jobs.cpp, DESIGN §4): Error if
// either stage is Error; else Processing while the image stage is Pending/Processing; else AiProcessing while
// the AI stage is Pending/Processing; else Completed (AI Completed or Skipped).

import type { AiStatus, OverallStatus, StageStatus } from './types'

export function deriveOverallStatus(status: StageStatus, aiStatus: AiStatus): OverallStatus {
  if (status === 'Error' || aiStatus === 'Error') return 'Error'
  if (status === 'Pending' || status === 'Processing') return 'Processing'
  if (aiStatus === 'Pending' || aiStatus === 'Processing') return 'AiProcessing'
  return 'Completed'
}

export function isInProgress(overall: OverallStatus): boolean {
  return overall === 'Processing' || overall === 'AiProcessing'
}

export const OVERALL_STATUS_LABEL: Record<OverallStatus, string> = {
  Processing: 'Processing',
  AiProcessing: 'AI analysis',
  Completed: 'Completed',
  Error: 'Failed',
}

export const STAGE_STATUS_LABEL: Record<AiStatus, string> = {
  Pending: 'Queued',
  Processing: 'Running',
  Completed: 'Done',
  Error: 'Failed',
  Skipped: 'Skipped',
}

// What a retry will do, shown before the server answers (POST /api/images/{id}/retry): a failed image stage
// goes back to Pending together with the AI stage (which was Skipped); otherwise a failed AI stage goes back to
// Pending alone. null when nothing can be retried (the server would answer 409).
export function optimisticRetryState(
  status: StageStatus,
  aiStatus: AiStatus,
): { status: StageStatus; aiStatus: AiStatus; overallStatus: OverallStatus } | null {
  if (status === 'Error') return { status: 'Pending', aiStatus: 'Pending', overallStatus: deriveOverallStatus('Pending', 'Pending') }
  if (status === 'Completed' && aiStatus === 'Error') {
    return { status, aiStatus: 'Pending', overallStatus: deriveOverallStatus(status, 'Pending') }
  }
  return null
}
