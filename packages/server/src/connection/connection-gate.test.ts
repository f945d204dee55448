import { ErrorCode } from '@seqline/protocol'
import { describe, expect, it } from 'vitest'
import { ConnectionGate } from './connection-gate.js'

const LIMITS = { maxConnections: 3, maxConnectionsPerAddress: 2, maxPendingHellos: 2 }

function codeOf(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return (err as { code?: unknown }).code
  }
  return undefined
}

describe('ConnectionGate', () => {
  it('counts pending hellos until greeted, and gives every place back once', () => {
    const gate = new ConnectionGate(LIMITS)
    const a = gate.admit('10.0.0.1')
    const b = gate.admit('10.0.0.2')
    expect(codeOf(() => gate.admit('10.0.0.3'))).toBe(ErrorCode.OVERLOADED)
    a.greeted()
    a.greeted()
    expect(gate.pending).toBe(1)
    const c = gate.admit('10.0.0.3')
    expect(gate.open).toBe(3)
    expect(codeOf(() => gate.admit('10.0.0.4'))).toBe(ErrorCode.TOO_MANY_CONNECTIONS)

    b.release()
    b.release()
    b.greeted()
    expect(gate.open).toBe(2)
    expect(gate.pending).toBe(1)
    a.release()
    c.release()
    expect(gate.open).toBe(0)
    expect(gate.pending).toBe(0)
  })

  it('caps connections per address and frees the address when they end', () => {
    const gate = new ConnectionGate({ ...LIMITS, maxConnections: 10, maxPendingHellos: 10 })
    const first = gate.admit('10.0.0.9')
    gate.admit('10.0.0.9')
    expect(codeOf(() => gate.admit('10.0.0.9'))).toBe(ErrorCode.TOO_MANY_CONNECTIONS)
    first.release()
    expect(() => gate.admit('10.0.0.9')).not.toThrow()
  })
})
