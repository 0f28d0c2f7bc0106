// The API's bodies (docs/api/openapi.yaml), as the client sees them.

export type StageStatus = 'Pending' | 'Processing' | 'Completed' | 'Error'
export type AiStatus = StageStatus | 'Skipped'
export type OverallStatus = 'Processing' | 'AiProcessing' | 'Completed' | 'Error'

export const OVERALL_STATUSES: readonly OverallStatus[] = ['Processing', 'AiProcessing', 'Completed', 'Error']

export interface AuthSession {
  token: string
  expiresAt: string
  email: string
  name: string
  userId: string
}

export interface Profile {
  userId: string
  email: string
  name: string
  role: 'user' | 'admin'
  createdAt: string
}

export interface JobSummary {
  id: string
  originalFilename: string
  fileSize: number
  status: StageStatus
  aiStatus: AiStatus
  overallStatus: OverallStatus
  createdAt: string
  completedAt: string | null
  width: number | null
  height: number | null
  thumbnailUrl: string | null
  blurhash: string | null
  tags: string[]
}

export interface JobList {
  items: JobSummary[]
  page: number
  pageSize: number
  totalCount: number
  totalPages: number
}

export interface JobStats {
  jobsToday: number
  inProgress: number
  successRate: number | null
  avgProcessingMs: number | null
  total: number
}

export interface JobOutput {
  name: string
  format: string
  width: number
  height: number
  bytes: number
  url: string
}

export type ExifValue = string | number | boolean | null | ExifValue[] | { [key: string]: ExifValue }

export interface ImageMetadata {
  width: number
  height: number
  format: string
  fileSize: number
  orientation: number
  hasAlpha: boolean
  colorSpace: string
  frames?: number
  exif: Record<string, ExifValue>
  gps?: { lat: number; lon: number }
  dominantColors: string[]
  blurhash: string
  phash: string
}

export interface AiTag {
  label: string
  confidence: number
}

export interface AiAnalysis {
  summary: string
  ocrText: string | null
  tags: AiTag[]
  safety: { adult: boolean; violence: boolean; selfHarm: boolean } | null
  meta: {
    provider: string
    model: string
    latencyMs: number
    inputTokens: number | null
    outputTokens: number | null
    estimatedCostUsd: number
  }
}

export interface JobDetail {
  id: string
  status: StageStatus
  aiStatus: AiStatus
  overallStatus: OverallStatus
  originalUrl: string
  originalFilename: string
  fileSize: number
  mimeType: string
  createdAt: string
  startedAt: string | null
  completedAt: string | null
  errorMessage: string | null
  retryCount: number
  thumbnails: Record<string, string>
  optimized: Record<string, string>
  outputs: JobOutput[]
  metadata: ImageMetadata | null
  aiStartedAt: string | null
  aiCompletedAt: string | null
  aiErrorMessage: string | null
  aiRetryCount: number
  aiAnalysis: AiAnalysis | null
}

export interface UploadAccepted {
  id: string
  status: StageStatus
  aiStatus: AiStatus
  overallStatus: OverallStatus
  originalUrl: string
}

export interface RetryAccepted {
  id: string
  status: StageStatus
  aiStatus: AiStatus
  overallStatus: OverallStatus
}

// GET /api/admin/overview
export interface AdminOverview {
  generatedAt: string
  jobs: {
    total: number
    byStatus: Record<StageStatus, number>
    byAiStatus: Record<AiStatus, number>
    byOverallStatus: Record<OverallStatus, number>
    deletedPending: number
  }
  queues: AdminQueue[]
  queuesError: string | null
  workers: AdminWorker[]
  schedules: AdminSchedule[]
  recentRuns: AdminRun[]
}

export interface AdminQueue {
  name: string
  messages: number
  consumers: number
  deadLetterQueue: string
  deadLetters: number
}

export interface AdminWorker {
  instance: string
  kind: string
  startedAt: string
  seenAt: string
  inFlight: number
  alive: boolean
}

export interface AdminSchedule {
  name: string
  cron: string
  enabled: boolean
  nextRunAt: string | null
  lastRunAt: string | null
  lastStatus: string | null
}

export interface AdminRun {
  id: string | number
  name: string
  trigger: 'schedule' | 'manual'
  startedAt: string
  finishedAt: string | null
  status: 'Running' | 'Succeeded' | 'Failed'
  stats: Record<string, number> | null
  error: string | null
}

export interface ScheduleRunRequested {
  name: string
  requestedAt: string
}
