import { setTimeout as delay } from 'node:timers/promises'
import {
  type FaultCounts,
  type FaultProxy,
  type LinkShape,
  freeStablePort,
  startFaultProxy,
} from '../../support/fault-proxy.js'
import { SeededRandom } from '../../support/seeded-random.js'
import type {
  ChaosFeature,
  ChaosPublisher,
  ChaosRetention,
  ChaosSubscriber,
  ChaosSystem,
  ServerControl,
  ServerStreamState,
} from './chaos-system.js'
import { type Acked, type ClientScore, DeliveryLog, idOf } from './delivery-log.js'

/** Link faults the scheduler draws from (weights in {@link ChaosScenario.faults}). */
export type LinkFault = 'reset' | 'blackhole' | 'half-open' | 'latency'

/** One chaos scenario: who takes part, how long, and what goes wrong. */
export interface ChaosScenario {
  readonly name: string
  /** One line for tables and docs. */
  readonly summary: string
  readonly subscribers: number
  readonly publishers: number
  /** How long publishers publish and faults happen; settling comes after. */
  readonly durationMs: number
  /** Each publisher publishes one message this often (without waiting for acks). */
  readonly publishEveryMs: number
  /** Link faults on one random client's proxy (or on all, for a fifth of the resets). */
  readonly faults?: Partial<Record<LinkFault, number>>
  /** Time between two link faults, drawn uniformly in this range. */
  readonly faultGapMs?: readonly [number, number]
  /** `kill -9` of the server at random points, each followed by a restart on the same port. */
  readonly serverKills?: number
  /** Shaping of every link for the whole run. */
  readonly shape?: LinkShape
  /** Subscriber 0 stops reading for this long (its own heartbeat is turned off meanwhile). */
  readonly slowConsumer?: { readonly stallMs: number }
  /** Subscribers are cut off (every connection attempt refused) while publishers go on. */
  readonly offline?: { readonly times: number; readonly ms: number }
  /** Page reloads of random subscribers. */
  readonly reloads?: number
  /** Duplicated tabs of random subscribers. */
  readonly duplicateTabs?: number
  readonly retention?: ChaosRetention
  /**
   * What resets the run tolerates: `recovered` (the default), any reset the snapshot path answers
   * — retention by count or age trims history a client still needs (G3); `none`, not one — with
   * until-acked under its age cap, nothing a following client has not acked is ever trimmed.
   */
  readonly resets?: ResetTolerance
}

/** See {@link ChaosScenario.resets}. */
export type ResetTolerance = 'recovered' | 'none'

export interface ChaosRunOptions {
  readonly system: ChaosSystem
  readonly scenario: ChaosScenario
  readonly seed: number
  /** Server heartbeat; short, so that faults are noticed fast. Default 500 ms. */
  readonly heartbeatMs?: number
  /** After the run, how long subscribers may stay silent while still incomplete. Default 5 s. */
  readonly quietMs?: number
  /** Upper bound of the settling phase. Default 30 s. */
  readonly settleMs?: number
  /** Progress lines (long profile). */
  readonly onEvent?: (line: string) => void
}

export interface ChaosResult {
  readonly system: string
  readonly scenario: string
  readonly seed: number
  readonly scores: ClientScore[]
  readonly published: number
  readonly acked: number
  /** Publishes still unacknowledged after settling, or rejected. */
  readonly unacked: number
  readonly publishErrors: string[]
  readonly faults: FaultCounts
  readonly serverKills: number
  readonly lateCallbacks: number
  readonly elapsedMs: number
  /** The scenario's {@link ChaosScenario.resets}. */
  readonly resets: ResetTolerance
  /**
   * Until-acked runs: the stream on the server once trimmed up to the lowest ack of its followers
   * (`tail === lowestAck + 1`), or as it stood when waiting for that gave up.
   */
  readonly retained?: ServerStreamState
}

/** Whether `system` can run `scenario` at all. */
export function supports(system: ChaosSystem, scenario: ChaosScenario): boolean {
  const needs: ChaosFeature[] = []
  if (scenario.reloads !== undefined) needs.push('reload')
  if (scenario.duplicateTabs !== undefined) needs.push('duplicate-tab')
  if (scenario.retention !== undefined) needs.push('retention')
  if (scenario.slowConsumer !== undefined) needs.push('slow-consumer')
  return needs.every((feature) => system.features.has(feature))
}

interface Member {
  readonly name: string
  readonly proxy: FaultProxy
  readonly log: DeliveryLog
  subscriber: ChaosSubscriber
}

const STREAM = 'room:chaos'

/**
 * Runs one scenario with one seed against one system: a server process, one fault proxy per
 * client, subscribers and publishers through their proxies, and the seeded schedule of faults.
 * Then heals every link, lets publishers finish and subscribers catch up, and scores each
 * subscriber against what the server acknowledged. The same seed draws the same schedule.
 */
export async function runChaos(options: ChaosRunOptions): Promise<ChaosResult> {
  const { system, scenario, seed } = options
  const heartbeatMs = options.heartbeatMs ?? 500
  const say = options.onEvent ?? (() => {})
  const random = new SeededRandom(seed)
  const started = Date.now()
  const port = await freeStablePort()
  const server = await system.startServer({
    port,
    heartbeatMs,
    ...(scenario.retention === undefined ? {} : { retention: scenario.retention }),
  })
  const proxies: FaultProxy[] = []
  const members: Member[] = []
  const publishers: ChaosPublisher[] = []
  const undo: Promise<unknown>[] = []
  let serverKills = 0
  let serverUp: Promise<void> = Promise.resolve()

  const proxy = async (label: string): Promise<FaultProxy> => {
    const jitter = random.fork(`jitter:${label}`)
    const p = await startFaultProxy({
      targetPort: port,
      random: () => jitter.next(),
      ...(scenario.shape === undefined ? {} : { shape: scenario.shape }),
    })
    proxies.push(p)
    return p
  }

  try {
    for (let i = 0; i < scenario.subscribers; i++) {
      const name = `sub-${i}`
      const p = await proxy(name)
      const log = new DeliveryLog(name)
      const slow = scenario.slowConsumer !== undefined && i === 0
      const subscriber = system.subscriber({
        url: p.url,
        stream: STREAM,
        name,
        log,
        ...(slow ? { clientHeartbeatMs: 10 * (scenario.slowConsumer?.stallMs ?? 0) } : {}),
      })
      members.push({ name, proxy: p, log, subscriber })
    }
    await withTimeout(
      Promise.all(members.map((m) => m.subscriber.ready)),
      15_000,
      'subscribers ready',
    )
    const publisherProxies: FaultProxy[] = []
    for (let i = 0; i < scenario.publishers; i++) {
      const p = await proxy(`pub-${i}`)
      publisherProxies.push(p)
      publishers.push(system.publisher({ url: p.url, stream: STREAM, name: `pub-${i}` }))
    }
    const acked: Acked[] = []
    // Each publisher's first running number (the warm-up below takes publisher 0's first).
    const firstN = publishers.map(() => 0)

    // -- until-acked warm-up ---------------------------------------------------------------------
    // Until-acked holds messages for the clients that *follow* the stream, which a client does
    // from its first ack (docs/operations.md, "Following"); one that acked nothing yet is held for
    // only while it is connected. So one message goes first, and the faults wait until every
    // subscriber acked it: from then on, no reset is acceptable.
    const untilAcked = scenario.retention?.kind === 'until-acked'
    if (untilAcked) {
      const first = { p: 0, n: 0 }
      const { offset } = await withTimeout(
        (publishers[0] as ChaosPublisher).publish(first),
        15_000,
        'the first publish',
      )
      acked.push({ id: idOf(first), offset })
      firstN[0] = 1
      await waitForState(
        server,
        (st) => st.following >= scenario.subscribers,
        15_000,
        'every subscriber following the stream',
      )
    }

    // -- publishing ------------------------------------------------------------------------------
    const stopAt = Date.now() + scenario.durationMs
    const pending = new Set<Promise<void>>()
    const publishErrors: string[] = []
    let published = firstN.reduce((sum, n) => sum + n, 0)
    const publishing = publishers.map(async (publisher, p) => {
      for (let n = firstN[p] ?? 0; Date.now() < stopAt; n++) {
        published += 1
        const payload = { p, n }
        const done = publisher.publish(payload).then(
          ({ offset }) => void acked.push({ id: idOf(payload), offset }),
          (err: unknown) => void publishErrors.push(`${idOf(payload)}: ${String(err)}`),
        )
        pending.add(done)
        void done.finally(() => pending.delete(done))
        await delay(scenario.publishEveryMs)
      }
    })

    // -- faults ----------------------------------------------------------------------------------
    const at = (fraction: number): number => Math.floor(scenario.durationMs * fraction)
    const later = (ms: number, action: () => Promise<void> | void): void => {
      undo.push(delay(ms).then(action))
    }
    const timeline: { atMs: number; what: string; run: () => Promise<void> | void }[] = []

    for (let k = 0; k < (scenario.serverKills ?? 0); k++) {
      const downMs = random.int(100, 1_000)
      timeline.push({
        atMs: random.int(at(0.1), at(0.85)),
        what: `kill -9 (down ${downMs} ms)`,
        run: async () => {
          await serverUp
          serverKills += 1
          let markUp!: () => void
          serverUp = new Promise((resolve) => (markUp = resolve))
          await server.kill9()
          await delay(downMs)
          await server.restart()
          markUp()
        },
      })
    }
    if (scenario.slowConsumer !== undefined) {
      const { stallMs } = scenario.slowConsumer
      const member = members[0] as Member
      timeline.push({
        atMs: random.int(at(0.05), Math.max(at(0.05), scenario.durationMs - stallMs - 500)),
        what: `${member.name} stops reading for ${stallMs} ms`,
        run: () => {
          member.proxy.stall()
          later(stallMs, () => member.proxy.unstall())
        },
      })
    }
    for (let k = 0; k < (scenario.offline?.times ?? 0); k++) {
      const member = random.pick(members)
      const ms = scenario.offline?.ms ?? 0
      timeline.push({
        atMs: random.int(at(0.05), Math.max(at(0.05), scenario.durationMs - ms)),
        what: `${member.name} offline for ${ms} ms`,
        run: () => {
          member.proxy.offline(true)
          later(ms, () => member.proxy.offline(false))
        },
      })
    }
    for (let k = 0; k < (scenario.reloads ?? 0); k++) {
      const member = random.pick(members)
      timeline.push({
        atMs: random.int(at(0.1), at(0.9)),
        what: `${member.name} reloads`,
        run: () => {
          const old = member.subscriber
          if (old.reload !== undefined) member.subscriber = old.reload()
        },
      })
    }
    for (let k = 0; k < (scenario.duplicateTabs ?? 0); k++) {
      const member = random.pick(members)
      timeline.push({
        atMs: random.int(at(0.1), at(0.6)),
        what: `${member.name} is duplicated`,
        run: async () => {
          if (member.subscriber.duplicate === undefined) return
          const name = `${member.name}#dup${k}`
          const p = await proxy(name)
          const { subscriber, log } = await member.subscriber.duplicate(name, p.url)
          members.push({ name, proxy: p, log, subscriber })
        },
      })
    }
    timeline.sort((a, b) => a.atMs - b.atMs)
    const events = (async () => {
      for (const event of timeline) {
        const wait = started + event.atMs - Date.now()
        if (wait > 0) await delay(wait)
        say(`  ${event.what}`)
        await event.run()
      }
    })()

    const linkFaults = (async () => {
      const weights = scenario.faults
      if (weights === undefined) return
      const gap = scenario.faultGapMs ?? [200, 800]
      const faultRandom = random.fork('link-faults')
      for (;;) {
        await delay(faultRandom.int(gap[0], gap[1]))
        if (Date.now() >= stopAt) return
        const kind = faultRandom.weighted(weights as Record<LinkFault, number>)
        const targets = [...members.map((m) => m.proxy), ...publisherProxies]
        const target = faultRandom.pick(targets)
        switch (kind) {
          case 'reset':
            if (faultRandom.chance(0.2)) for (const t of targets) t.reset()
            else target.reset()
            break
          case 'blackhole': {
            target.blackhole()
            const ms = faultRandom.int(heartbeatMs * 2, heartbeatMs * 5)
            later(ms, () => target.reset())
            break
          }
          case 'half-open':
            target.halfOpen()
            break
          case 'latency': {
            target.shape({
              latencyMs: faultRandom.int(20, 200),
              jitterMs: faultRandom.int(0, 100),
              bytesPerSec: faultRandom.int(8, 64) * 1024,
            })
            later(faultRandom.int(500, 2_000), () => target.shape(scenario.shape ?? {}))
            break
          }
        }
      }
    })()

    await Promise.all([...publishing, events, linkFaults])
    await Promise.all(undo)
    await serverUp

    // -- settling --------------------------------------------------------------------------------
    for (const p of proxies) {
      p.unstall()
      p.offline(false)
      p.shape(scenario.shape ?? {})
    }
    say(`  settling: ${pending.size} publishes pending`)
    const settleMs = options.settleMs ?? 30_000
    await Promise.race([Promise.allSettled([...pending]), delay(settleMs)])
    const quietMs = options.quietMs ?? 5_000
    const deadline = Date.now() + settleMs
    let lastProgress = Date.now()
    let lastCount = -1
    while (Date.now() < deadline) {
      if (members.every((m) => m.log.complete(acked))) break
      const count = members.reduce((sum, m) => sum + m.log.deliveries, 0)
      if (count !== lastCount) {
        lastCount = count
        lastProgress = Date.now()
      } else if (Date.now() - lastProgress > quietMs) break
      await delay(100)
    }
    // Until-acked trims exactly what every follower acked: up to the lowest ack, not one more.
    // (Not necessarily up to the head: a client acks only as messages arrive, so an ack lost to
    // the last link fault is not sent again.)
    const retained = untilAcked
      ? await waitForState(server, (st) => st.tail === (st.lowestAck ?? -1) + 1, 10_000)
      : undefined

    const faults: FaultCounts = {
      resets: 0,
      blackholes: 0,
      halfOpens: 0,
      stalls: 0,
      offlines: 0,
      accepted: 0,
    }
    for (const p of proxies) {
      for (const key of Object.keys(faults) as (keyof FaultCounts)[]) faults[key] += p.counts[key]
    }
    return {
      system: system.name,
      scenario: scenario.name,
      seed,
      scores: members.map((m) => m.log.score(acked)),
      published,
      acked: acked.length,
      unacked: published - acked.length,
      publishErrors,
      faults,
      serverKills,
      lateCallbacks: members.reduce((sum, m) => sum + m.log.lateCallbacks, 0),
      elapsedMs: Date.now() - started,
      resets: scenario.resets ?? 'recovered',
      ...(retained === undefined ? {} : { retained }),
    }
  } finally {
    await Promise.allSettled(undo)
    await serverUp.catch(() => undefined)
    await Promise.allSettled([
      ...members.map((m) => m.subscriber.close()),
      ...publishers.map((p) => p.close()),
    ])
    await Promise.allSettled(proxies.map((p) => p.close()))
    await server.dispose()
  }
}

/**
 * Reads the stream's state on the server until `done` holds of it and returns that state. Past
 * `timeoutMs` it returns the last state read when `what` is undefined (the verdict judges it),
 * and otherwise throws naming `what`.
 */
async function waitForState(
  server: ServerControl,
  done: (state: ServerStreamState) => boolean,
  timeoutMs: number,
  what?: string,
): Promise<ServerStreamState> {
  if (server.streamState === undefined) throw new Error('the system reports no stream state')
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const state = await server.streamState(STREAM)
    if (done(state)) return state
    if (Date.now() > deadline) {
      if (what === undefined) return state
      throw new Error(`timed out after ${timeoutMs} ms: ${what} (${JSON.stringify(state)})`)
    }
    await delay(100)
  }
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms)
      }),
    ])
  } finally {
    clearTimeout(timer)
  }
}
