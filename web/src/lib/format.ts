// Number, size, time and money formatting for people. Fixed to en-GB style digits so tests are stable.

const KIB = 1024

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes) || bytes < 0) return '—'
  if (bytes < KIB) return `${bytes} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes / KIB
  let unit = 0
  while (value >= KIB && unit < units.length - 1) {
    value /= KIB
    unit += 1
  }
  const digits = value < 10 ? 1 : 0
  return `${value.toFixed(digits)} ${units[unit]}`
}

// "saves 83 %" / "2.0× larger": the output's size against the original's.
export function formatSaving(outputBytes: number, originalBytes: number): string {
  if (!(originalBytes > 0) || !(outputBytes >= 0)) return '—'
  if (outputBytes <= originalBytes) {
    const saved = (1 - outputBytes / originalBytes) * 100
    return `saves ${saved >= 10 ? Math.round(saved) : saved.toFixed(1)} %`
  }
  const ratio = outputBytes / originalBytes
  return ratio < 1.1 ? `${Math.round((ratio - 1) * 100)} % larger` : `${ratio.toFixed(1)}× larger`
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) return '—'
  if (ms < 1000) return `${Math.round(ms)} ms`
  const seconds = ms / 1000
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`
  const minutes = Math.floor(seconds / 60)
  const rest = Math.round(seconds - minutes * 60)
  if (minutes < 60) return `${minutes} min ${rest} s`
  const hours = Math.floor(minutes / 60)
  return `${hours} h ${minutes % 60} min`
}

// Milliseconds between two ISO timestamps; null when either is missing or the order is wrong.
export function durationBetween(from: string | null | undefined, to: string | null | undefined): number | null {
  if (!from || !to) return null
  const a = Date.parse(from)
  const b = Date.parse(to)
  if (Number.isNaN(a) || Number.isNaN(b) || b < a) return null
  return b - a
}

export function formatDateTime(iso: string | null | undefined, timeZone?: string): string {
  if (!iso) return '—'
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return '—'
  return new Intl.DateTimeFormat('en-GB', {
    dateStyle: 'medium',
    timeStyle: 'medium',
    ...(timeZone ? { timeZone } : {}),
  }).format(date)
}

export function formatPercent(ratio: number | null | undefined): string {
  if (ratio === null || ratio === undefined || !Number.isFinite(ratio)) return '—'
  const percent = ratio * 100
  return `${percent >= 99.95 || percent === 0 ? percent.toFixed(0) : percent.toFixed(1)} %`
}

export function formatUsd(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  if (value === 0) return '$0'
  if (value < 0.01) return `$${value.toPrecision(2)}`
  return `$${value.toFixed(2)}`
}

export function formatCount(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '—'
  return new Intl.NumberFormat('en-GB').format(value)
}

export function formatDimensions(width: number | null | undefined, height: number | null | undefined): string {
  if (!width || !height) return '—'
  return `${width} × ${height}`
}

// EXIF values arrive as strings, numbers or arrays of numbers (rationals, versions).
export function formatExifValue(value: unknown): string {
  if (value === null || value === undefined) return '—'
  if (Array.isArray(value)) return value.map(formatExifValue).join(', ')
  if (typeof value === 'number') return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)))
  if (typeof value === 'object') return JSON.stringify(value)
  return String(value)
}

export function formatCoordinate(value: number, positive: string, negative: string): string {
  return `${Math.abs(value).toFixed(5)}° ${value >= 0 ? positive : negative}`
}

const ORIENTATION: Record<number, string> = {
  1: 'Normal',
  2: 'Mirrored',
  3: 'Rotated 180°',
  4: 'Mirrored vertically',
  5: 'Mirrored, rotated 90° counter-clockwise',
  6: 'Rotated 90° clockwise',
  7: 'Mirrored, rotated 90° clockwise',
  8: 'Rotated 90° counter-clockwise',
}

export function formatOrientation(orientation: number | null | undefined): string {
  if (!orientation) return '—'
  return `${ORIENTATION[orientation] ?? 'Unknown'} (${orientation})`
}
