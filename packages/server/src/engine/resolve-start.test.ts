import { describe, expect, it } from 'vitest'
import { resolveStart } from './resolve-start.js'

const stream = { epoch: 'e1', head: 100, tail: 41 }

describe('resolveStart', () => {
  it('starts at the head for latest and just below the tail for earliest', () => {
    expect(resolveStart(stream, 'latest')).toEqual({
      kind: 'replay',
      position: 100,
      recovered: false,
    })
    expect(resolveStart(stream, 'earliest')).toEqual({
      kind: 'replay',
      position: 40,
      recovered: false,
    })
  })

  it('replays from a retained position', () => {
    expect(resolveStart(stream, { epoch: 'e1', offset: 40 })).toEqual({
      kind: 'replay',
      position: 40,
      recovered: true,
    })
    expect(resolveStart(stream, { epoch: 'e1', offset: 77 })).toMatchObject({ position: 77 })
  })

  it('resets a position below the tail instead of replaying part of the history', () => {
    expect(resolveStart(stream, { epoch: 'e1', offset: 39 })).toEqual({
      kind: 'reset',
      reason: 'truncated',
    })
  })

  it('resumes a position equal to the head even when everything was trimmed', () => {
    const trimmed = { epoch: 'e1', head: 100, tail: 101 }
    expect(resolveStart(trimmed, { epoch: 'e1', offset: 100 })).toEqual({
      kind: 'replay',
      position: 100,
      recovered: true,
    })
    expect(resolveStart(trimmed, { epoch: 'e1', offset: 99 })).toMatchObject({ kind: 'reset' })
  })

  it('resumes offset 0 of any epoch while nothing was trimmed (a stream created meanwhile)', () => {
    const fresh = { epoch: 'e1', head: 3, tail: 1 }
    expect(resolveStart(fresh, { epoch: '', offset: 0 })).toEqual({
      kind: 'replay',
      position: 0,
      recovered: true,
    })
    expect(resolveStart(stream, { epoch: '', offset: 0 })).toEqual({
      kind: 'reset',
      reason: 'epoch',
    })
  })

  it('resets a position from another epoch or beyond the head', () => {
    expect(resolveStart(stream, { epoch: 'e0', offset: 50 })).toEqual({
      kind: 'reset',
      reason: 'epoch',
    })
    expect(resolveStart(stream, { epoch: 'e1', offset: 101 })).toEqual({
      kind: 'reset',
      reason: 'ahead',
    })
  })
})
