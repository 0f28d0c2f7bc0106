import { describe, expect, it } from 'vitest'
import { deriveOverallStatus, isInProgress, optimisticRetryState } from './status'
import type { AiStatus, OverallStatus, StageStatus } from './types'

// Every combination of the two stages, as the server's rule gives them (src/contracts/jobs.cpp).
const table: [StageStatus, AiStatus, OverallStatus][] = [
  ['Pending', 'Pending', 'Processing'],
  ['Pending', 'Processing', 'Processing'],
  ['Pending', 'Completed', 'Processing'],
  ['Pending', 'Error', 'Error'],
  ['Pending', 'Skipped', 'Processing'],
  ['Processing', 'Pending', 'Processing'],
  ['Processing', 'Processing', 'Processing'],
  ['Processing', 'Completed', 'Processing'],
  ['Processing', 'Error', 'Error'],
  ['Processing', 'Skipped', 'Processing'],
  ['Completed', 'Pending', 'AiProcessing'],
  ['Completed', 'Processing', 'AiProcessing'],
  ['Completed', 'Completed', 'Completed'],
  ['Completed', 'Error', 'Error'],
  ['Completed', 'Skipped', 'Completed'],
  ['Error', 'Pending', 'Error'],
  ['Error', 'Processing', 'Error'],
  ['Error', 'Completed', 'Error'],
  ['Error', 'Error', 'Error'],
  ['Error', 'Skipped', 'Error'],
]

describe('deriveOverallStatus', () => {
  it.each(table)('image %s + AI %s is %s', (status, aiStatus, expected) => {
    expect(deriveOverallStatus(status, aiStatus)).toBe(expected)
  })

  it('counts only the two working states as in progress', () => {
    expect(isInProgress('Processing')).toBe(true)
    expect(isInProgress('AiProcessing')).toBe(true)
    expect(isInProgress('Completed')).toBe(false)
    expect(isInProgress('Error')).toBe(false)
  })
})

describe('optimisticRetryState', () => {
  it('mirrors the server: a failed image stage restarts both stages, a failed AI stage only itself', () => {
    expect(optimisticRetryState('Error', 'Skipped')).toEqual({
      status: 'Pending',
      aiStatus: 'Pending',
      overallStatus: 'Processing',
    })
    expect(optimisticRetryState('Completed', 'Error')).toEqual({
      status: 'Completed',
      aiStatus: 'Pending',
      overallStatus: 'AiProcessing',
    })
  })

  it('offers nothing to retry when no stage failed (the server says 409)', () => {
    expect(optimisticRetryState('Completed', 'Skipped')).toBeNull()
    expect(optimisticRetryState('Completed', 'Completed')).toBeNull()
    expect(optimisticRetryState('Processing', 'Pending')).toBeNull()
  })
})
