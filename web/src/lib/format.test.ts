import { describe, expect, it } from 'vitest'
import {
  durationBetween,
  formatBytes,
  formatCoordinate,
  formatDateTime,
  formatDimensions,
  formatDuration,
  formatExifValue,
  formatOrientation,
  formatPercent,
  formatSaving,
  formatUsd,
} from './format'

describe('formatting', () => {
  it('sizes in binary units', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1024)).toBe('1.0 KiB')
    expect(formatBytes(48213)).toBe('47 KiB')
    expect(formatBytes(50 * 1024 * 1024)).toBe('50 MiB')
    expect(formatBytes(3.5 * 1024 ** 3)).toBe('3.5 GiB')
    expect(formatBytes(null)).toBe('—')
    expect(formatBytes(-1)).toBe('—')
  })

  it('savings against the original', () => {
    expect(formatSaving(3120, 48213)).toBe('saves 94 %')
    expect(formatSaving(45000, 48213)).toBe('saves 6.7 %')
    expect(formatSaving(48213, 48213)).toBe('saves 0.0 %')
    expect(formatSaving(50000, 48213)).toBe('4 % larger')
    expect(formatSaving(100000, 48213)).toBe('2.1× larger')
    expect(formatSaving(10, 0)).toBe('—')
  })

  it('durations from milliseconds to hours', () => {
    expect(formatDuration(0)).toBe('0 ms')
    expect(formatDuration(412)).toBe('412 ms')
    expect(formatDuration(1398)).toBe('1.40 s')
    expect(formatDuration(12_345)).toBe('12.3 s')
    expect(formatDuration(125_000)).toBe('2 min 5 s')
    expect(formatDuration(3_720_000)).toBe('1 h 2 min')
    expect(formatDuration(null)).toBe('—')
    expect(durationBetween('2026-01-05T10:12:03.481Z', '2026-01-05T10:12:03.914Z')).toBe(433)
    expect(durationBetween('2026-01-05T10:12:03.914Z', '2026-01-05T10:12:03.481Z')).toBeNull()
    expect(durationBetween(null, '2026-01-05T10:12:03.914Z')).toBeNull()
  })

  it('dates, percentages, money, dimensions', () => {
    expect(formatDateTime('2026-01-05T10:12:03.481Z', 'UTC')).toBe('5 Jan 2026, 10:12:03')
    expect(formatDateTime(null)).toBe('—')
    expect(formatDateTime('not a date')).toBe('—')
    expect(formatPercent(1)).toBe('100 %')
    expect(formatPercent(0.8333)).toBe('83.3 %')
    expect(formatPercent(0)).toBe('0 %')
    expect(formatPercent(null)).toBe('—')
    expect(formatUsd(0)).toBe('$0')
    expect(formatUsd(0.0005832)).toBe('$0.00058')
    expect(formatUsd(1.5)).toBe('$1.50')
    expect(formatDimensions(800, 600)).toBe('800 × 600')
    expect(formatDimensions(null, 600)).toBe('—')
  })

  it('EXIF values, orientation and coordinates', () => {
    expect(formatExifValue('TestCam')).toBe('TestCam')
    expect(formatExifValue(0.008)).toBe('0.008')
    expect(formatExifValue(200)).toBe('200')
    expect(formatExifValue(1 / 3)).toBe('0.333333')
    expect(formatExifValue([2, 3, 0, 0])).toBe('2, 3, 0, 0')
    expect(formatExifValue(null)).toBe('—')
    expect(formatOrientation(6)).toBe('Rotated 90° clockwise (6)')
    expect(formatOrientation(1)).toBe('Normal (1)')
    expect(formatCoordinate(52.516275, 'N', 'S')).toBe('52.51628° N')
    expect(formatCoordinate(-13.377704, 'E', 'W')).toBe('13.37770° W')
  })
})
