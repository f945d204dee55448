import { ErrorCode, SeqlineError } from '@seqline/protocol'
import {
  checkAppend,
  checkAppendShape,
  cursorLag,
  forkReadThrough,
  isExpired,
  newStreamRecord,
  planAppend,
  planFork,
  sameStreamConfig,
  trimmedTail,
  unreadCountCap,
} from './store-rules.js'
import { jsonArrayChunk } from './json-array-chunk.js'
import type {
  ClientRef,
  AppendRequest,
  AppendResult,
  ClientDeliveryQuery,
  ClientRecord,
  ClientStateCounts,
  ClientStreamDelivery,
  CreateStreamInput,
  CreateStreamResult,
  CursorRecord,
  FollowerPosition,
  ProducerState,
  RetentionHolder,
  StoredMessage,
  StreamDelivery,
  StreamDeliveryQuery,
  Store,
  StreamHead,
  StreamRecord,
  TrimRequest,
  JsonArrayChunk,
  NewClientRecord,
  UnreadEpisode,
  UnreadQuery,
} from './store.js'

/** A retained message with the producer epoch, which the lookup of older duplicates needs. */
interface MessageRow {
  readonly message: StoredMessage
  readonly producerEpoch: number | null
}

/**
 * A `Store` in plain maps, for unit tests and single-process demos that need no durability. It has
 * exactly the semantics of `SqliteStore` (both pass test/support/store-conformance.ts), including
 * group commit: `append` validates each request before it writes anything, so a rejected request
 * leaves no trace and the batch is applied as one step.
 *
 * @example
 * const store = new MemoryStore()
 * await store.init()
 */
export class MemoryStore implements Store {
  readonly #streams = new Map<string, StreamRecord>()
  /** Per stream, the retained messages in offset order: `rows[i].offset === tail + i`. */
  readonly #messages = new Map<string, MessageRow[]>()
  readonly #producers = new Map<string, Map<string, ProducerState>>()
  readonly #clients = new Map<string, ClientRecord>()
  /** Per client, its cursors by stream. */
  readonly #cursors = new Map<string, Map<string, CursorRecord>>()
  readonly #leases = new Map<string, { readonly holder: string; readonly expiresAt: number }>()

  async init(): Promise<void> {}

  async close(): Promise<void> {}

  async createStream(input: CreateStreamInput): Promise<CreateStreamResult> {
    const existing = this.#streams.get(input.name)
    if (existing !== undefined) {
      return { kind: sameStreamConfig(existing, input) ? 'exists' : 'conflict', stream: existing }
    }
    let stream = newStreamRecord(input.name, input.contentType, input.now, input)
    if (input.fork !== undefined) {
      const source = this.#streams.get(input.fork.source)
      const through = source === undefined ? 0 : forkReadThrough(source, input.fork)
      const read = await this.read(input.fork.source, 0, Math.max(0, through))
      const plan = planFork(source, { ...input, fork: input.fork }, read)
      if (plan.kind === 'rejected') return plan
      stream = plan.stream
      this.#writeMessages(input.name, plan.messages, null)
    }
    const initial = input.initial ?? []
    if (initial.length > 0) {
      const plan = planAppend(stream, {
        stream: input.name,
        payloads: initial,
        from: input.from ?? null,
        now: input.now,
      })
      stream = plan.stream
      this.#writeMessages(input.name, plan.messages, null)
    }
    if (input.closed === true) stream = { ...stream, closed: true }
    this.#streams.set(input.name, stream)
    return { kind: 'created', stream }
  }

  async getStream(name: string): Promise<StreamRecord | undefined> {
    return this.#streams.get(name)
  }

  async getHeads(names: readonly string[]): Promise<Map<string, StreamHead>> {
    const heads = new Map<string, StreamHead>()
    for (const name of names) {
      const stream = this.#streams.get(name)
      if (stream !== undefined && !stream.softDeleted) {
        heads.set(name, { epoch: stream.epoch, head: stream.head })
      }
    }
    return heads
  }

  async deleteStream(name: string): Promise<boolean> {
    const stream = this.#streams.get(name)
    if (stream === undefined || stream.softDeleted) return false
    this.#dropContent(name)
    if (this.#hasForks(name)) {
      // Forks still name it as their source: keep a tombstone (Durable Streams §4.2).
      this.#streams.set(name, { ...stream, softDeleted: true })
      return true
    }
    this.#streams.delete(name)
    // Cascade: a soft-deleted source whose last fork this was goes too, up the chain.
    let source = stream.fork?.source
    while (source !== undefined) {
      const record = this.#streams.get(source)
      if (record === undefined || !record.softDeleted || this.#hasForks(source)) break
      this.#streams.delete(source)
      source = record.fork?.source
    }
    return true
  }

  async expiredStreams(now: number, limit: number): Promise<string[]> {
    return [...this.#streams.values()]
      .filter((s) => !s.softDeleted && isExpired(s, now))
      .map((s) => s.name)
      .sort(compareText)
      .slice(0, Math.max(0, limit))
  }

  #hasForks(name: string): boolean {
    for (const s of this.#streams.values()) if (s.fork?.source === name) return true
    return false
  }

  #dropContent(name: string): void {
    this.#messages.delete(name)
    this.#producers.delete(name)
    for (const cursors of this.#cursors.values()) cursors.delete(name)
  }

  async listStreams(after: string | undefined, limit: number): Promise<StreamRecord[]> {
    return [...this.#streams.values()]
      .filter((s) => after === undefined || s.name > after)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .slice(0, Math.max(0, limit))
  }

  async touchStream(name: string, now: number): Promise<void> {
    const stream = this.#streams.get(name)
    if (stream === undefined || stream.lastAccessAt >= now) return
    this.#streams.set(name, { ...stream, lastAccessAt: now })
  }

  async append(batch: readonly AppendRequest[]): Promise<AppendResult[]> {
    return batch.map((request) => this.#appendOne(request))
  }

  #appendOne(request: AppendRequest): AppendResult {
    const malformed = checkAppendShape(request)
    if (malformed !== undefined) return malformed
    let stream = this.#streams.get(request.stream)
    if (stream === undefined) {
      if (request.createIfMissing === undefined) {
        return {
          kind: 'rejected',
          code: ErrorCode.STREAM_NOT_FOUND,
          message: `stream ${request.stream} does not exist`,
        }
      }
      // Validated against the record it would create; stored only if the request is accepted.
      stream = newStreamRecord(request.stream, request.createIfMissing.contentType, request.now)
    }
    const verdict = checkAppend(stream, request, {
      producer: (id) => this.#producers.get(request.stream)?.get(id),
      offsetOf: (id, epoch, seq) => this.#offsetOf(request.stream, id, epoch, seq),
    })
    if (verdict.kind !== 'accept') return verdict

    const plan = planAppend(stream, request)
    this.#streams.set(request.stream, plan.stream)
    this.#writeMessages(request.stream, plan.messages, request.producer?.epoch ?? null)
    if (request.producer !== undefined && plan.producer !== undefined) {
      let producers = this.#producers.get(request.stream)
      if (producers === undefined) {
        producers = new Map()
        this.#producers.set(request.stream, producers)
      }
      producers.set(request.producer.id, plan.producer)
    }
    return plan.result
  }

  #writeMessages(
    name: string,
    messages: readonly StoredMessage[],
    producerEpoch: number | null,
  ): void {
    if (messages.length === 0) return
    let rows = this.#messages.get(name)
    if (rows === undefined) {
      rows = []
      this.#messages.set(name, rows)
    }
    // Copy the bytes: the caller may reuse its buffers, the SQLite store copies them too.
    for (const m of messages) rows.push({ message: { ...m, data: m.data.slice() }, producerEpoch })
  }

  #offsetOf(name: string, producerId: string, epoch: number, seq: number): number | undefined {
    const rows = this.#messages.get(name) ?? []
    for (let i = rows.length - 1; i >= 0; i--) {
      const row = rows[i]
      if (
        row !== undefined &&
        row.message.producer === producerId &&
        row.producerEpoch === epoch &&
        row.message.seq === seq
      ) {
        return row.message.offset
      }
    }
    return undefined
  }

  async read(
    name: string,
    after: number,
    limit: number,
    maxBytes = Number.POSITIVE_INFINITY,
  ): Promise<StoredMessage[]> {
    const stream = this.#streams.get(name)
    const rows = this.#messages.get(name)
    if (stream === undefined || rows === undefined || limit <= 0) return []
    const start = Math.max(0, Math.floor(after) + 1 - stream.tail)
    const end = Math.min(rows.length, start + limit)
    const page: StoredMessage[] = []
    let bytes = 0
    for (let i = start; i < end; i++) {
      const message = (rows[i] as (typeof rows)[number]).message
      bytes += message.data.byteLength
      if (page.length > 0 && bytes > maxBytes) break
      page.push(message)
    }
    return page
  }

  async readJsonArray(
    name: string,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<JsonArrayChunk | undefined> {
    return jsonArrayChunk(await this.read(name, after, limit, maxBytes), maxBytes)
  }

  async getProducer(stream: string, producerId: string): Promise<ProducerState | undefined> {
    return this.#producers.get(stream)?.get(producerId)
  }

  async gcProducers(updatedBefore: number): Promise<number> {
    let count = 0
    for (const producers of this.#producers.values()) {
      for (const [id, state] of producers) {
        if (state.updatedAt < updatedBefore) {
          producers.delete(id)
          count++
        }
      }
    }
    return count
  }

  async createClient(record: NewClientRecord): Promise<void> {
    await this.createClients([record])
  }

  async createClients(records: readonly NewClientRecord[]): Promise<void> {
    const ids = new Set<string>()
    for (const { id } of records) {
      // All or nothing: check every id before registering any.
      if (this.#clients.has(id) || ids.has(id)) {
        throw new SeqlineError(ErrorCode.CONFLICT, `client ${id} already exists`)
      }
      ids.add(id)
    }
    for (const { id, userId, secretHash, createdAt, lastSeenAt } of records) {
      this.#clients.set(id, { id, userId, secretHash, createdAt, lastSeenAt, closingAt: null })
    }
  }

  async getClient(id: string): Promise<ClientRecord | undefined> {
    return this.#clients.get(id)
  }

  async countClientsOfUser(userId: string): Promise<number> {
    let count = 0
    for (const client of this.#clients.values()) if (client.userId === userId) count++
    return count
  }

  async touchClients(ids: readonly string[], now: number): Promise<void> {
    for (const id of ids) {
      const client = this.#clients.get(id)
      if (client !== undefined && client.lastSeenAt < now) {
        this.#clients.set(id, { ...client, lastSeenAt: now })
      }
    }
  }

  async updateClientSecret(id: string, secretHash: string): Promise<boolean> {
    const client = this.#clients.get(id)
    if (client === undefined) return false
    this.#clients.set(id, { ...client, secretHash })
    return true
  }

  async deleteClient(id: string): Promise<boolean> {
    this.#cursors.delete(id)
    return this.#clients.delete(id)
  }

  async gcClients(seenBefore: number): Promise<ClientRef[]> {
    return this.#deleteClientsWhere((client) => client.lastSeenAt < seenBefore)
  }

  async markClientClosing(id: string, at: number): Promise<boolean> {
    const client = this.#clients.get(id)
    if (client === undefined) return false
    this.#clients.set(id, { ...client, closingAt: at })
    return true
  }

  async forgetClosingClients(closedBefore: number): Promise<ClientRef[]> {
    return this.#deleteClientsWhere(
      (c) => c.closingAt !== null && c.closingAt <= closedBefore && isClosing(c),
    )
  }

  async countClientsByState(seenSince: number): Promise<ClientStateCounts> {
    const counts = { active: 0, idle: 0, closing: 0 }
    for (const client of this.#clients.values()) {
      if (isClosing(client)) counts.closing++
      else if (client.lastSeenAt >= seenSince) counts.active++
      else counts.idle++
    }
    return counts
  }

  #deleteClientsWhere(test: (client: ClientRecord) => boolean): ClientRef[] {
    const deleted: ClientRef[] = []
    for (const client of [...this.#clients.values()]) {
      if (!test(client)) continue
      this.#clients.delete(client.id)
      this.#cursors.delete(client.id)
      deleted.push({ id: client.id, userId: client.userId })
    }
    return deleted.sort((a, b) => compareText(a.id, b.id))
  }

  async saveCursors(
    entries: readonly Omit<CursorRecord, 'updatedAt'>[],
    now: number,
  ): Promise<void> {
    for (const entry of entries) {
      // An ack racing the client's garbage collection must not resurrect its cursors.
      if (!this.#clients.has(entry.clientId)) continue
      let cursors = this.#cursors.get(entry.clientId)
      if (cursors === undefined) {
        cursors = new Map()
        this.#cursors.set(entry.clientId, cursors)
      }
      const current = cursors.get(entry.stream)
      if (current === undefined || current.epoch !== entry.epoch || entry.offset > current.offset) {
        cursors.set(entry.stream, {
          clientId: entry.clientId,
          stream: entry.stream,
          epoch: entry.epoch,
          offset: entry.offset,
          updatedAt: now,
        })
      }
    }
  }

  async getCursors(clientId: string): Promise<CursorRecord[]> {
    return [...(this.#cursors.get(clientId)?.values() ?? [])].sort((a, b) =>
      compareText(a.stream, b.stream),
    )
  }

  async getCursorsOfStream(stream: string): Promise<CursorRecord[]> {
    const result: CursorRecord[] = []
    for (const cursors of this.#cursors.values()) {
      const cursor = cursors.get(stream)
      if (cursor !== undefined) result.push(cursor)
    }
    return result.sort((a, b) => compareText(a.clientId, b.clientId))
  }

  async streamDelivery(
    stream: string,
    query: StreamDeliveryQuery,
  ): Promise<StreamDelivery | undefined> {
    const record = this.#streams.get(stream)
    if (record === undefined || record.softDeleted) return undefined
    const followers: FollowerPosition[] = []
    for (const cursor of await this.getCursorsOfStream(stream)) {
      if (followers.length >= query.limit) break
      const client = this.#clients.get(cursor.clientId)
      if (client === undefined) continue
      if (query.userId !== undefined && client.userId !== query.userId) continue
      if (query.after !== undefined && compareText(cursor.clientId, query.after) <= 0) continue
      const behind = cursorLag(cursor, record)
      followers.push({
        clientId: cursor.clientId,
        userId: client.userId,
        epoch: cursor.epoch,
        offset: cursor.offset,
        updatedAt: cursor.updatedAt,
        following: behind !== null,
        behind,
      })
    }
    const { epoch, head, tail } = record
    return { stream, epoch, head, tail, followers }
  }

  async clientDelivery(
    clientId: string,
    query: ClientDeliveryQuery,
  ): Promise<ClientStreamDelivery[]> {
    const result: ClientStreamDelivery[] = []
    for (const cursor of await this.getCursors(clientId)) {
      if (result.length >= query.limit) break
      if (query.after !== undefined && compareText(cursor.stream, query.after) <= 0) continue
      const found = this.#streams.get(cursor.stream)
      const stream = found === undefined || found.softDeleted ? undefined : found
      const unacked = cursorLag(cursor, stream)
      result.push({
        stream: cursor.stream,
        epoch: cursor.epoch,
        offset: cursor.offset,
        updatedAt: cursor.updatedAt,
        head: stream?.head ?? null,
        tail: stream?.tail ?? null,
        following: unacked !== null,
        unacked,
      })
    }
    return result
  }

  async trim(name: string, request: TrimRequest): Promise<number> {
    const stream = this.#streams.get(name)
    if (stream === undefined) return 0
    const rows = this.#messages.get(name) ?? []
    const { maxAgeMs, untilAcked } = request.policy
    const youngestCut =
      maxAgeMs === undefined
        ? undefined
        : rows.find((row) => row.message.ts >= request.now - maxAgeMs)?.message.offset
    let ackedThrough: number | undefined
    if (untilAcked === true) {
      for (const cursor of this.#followers(stream)) {
        ackedThrough = Math.min(ackedThrough ?? cursor.offset, cursor.offset)
      }
    }
    const tail = trimmedTail(stream, request, { youngestCut, ackedThrough })
    if (tail === stream.tail) return tail
    rows.splice(0, tail - stream.tail)
    this.#streams.set(name, { ...stream, tail })
    return tail
  }

  async retentionHolders(stream: string, limit: number): Promise<RetentionHolder[]> {
    const record = this.#streams.get(stream)
    if (record === undefined) return []
    const holders: RetentionHolder[] = []
    for (const cursor of this.#followers(record)) {
      const client = this.#clients.get(cursor.clientId)
      if (client === undefined || cursor.offset >= record.head) continue
      holders.push({
        clientId: cursor.clientId,
        userId: client.userId,
        offset: cursor.offset,
        behind: record.head - cursor.offset,
        lastSeenAt: client.lastSeenAt,
      })
    }
    return holders
      .sort((a, b) => a.offset - b.offset || compareText(a.clientId, b.clientId))
      .slice(0, Math.max(0, limit))
  }

  async claimLease(name: string, holder: string, ttlMs: number, now: number): Promise<boolean> {
    const lease = this.#leases.get(name)
    if (lease !== undefined && lease.holder !== holder && lease.expiresAt > now) return false
    this.#leases.set(name, { holder, expiresAt: now + ttlMs })
    return true
  }

  async releaseLease(name: string, holder: string): Promise<boolean> {
    if (this.#leases.get(name)?.holder !== holder) return false
    return this.#leases.delete(name)
  }

  async findUnread(query: UnreadQuery): Promise<UnreadEpisode[]> {
    // Each user's last sighting over all their clients: offline when before the bound.
    const lastSeen = new Map<string, number>()
    for (const c of this.#clients.values()) {
      lastSeen.set(c.userId, Math.max(lastSeen.get(c.userId) ?? c.lastSeenAt, c.lastSeenAt))
    }
    // Per offline (user, stream), the furthest ack of the user's clients in the current epoch.
    const acked = new Map<string, { user: string; stream: StreamRecord; offset: number }>()
    for (const [clientId, cursors] of this.#cursors) {
      const user = this.#clients.get(clientId)?.userId
      if (user === undefined || (lastSeen.get(user) ?? 0) >= query.offlineBefore) continue
      for (const cursor of cursors.values()) {
        const stream = this.#streams.get(cursor.stream)
        if (stream === undefined || stream.softDeleted || cursor.epoch !== stream.epoch) continue
        const key = JSON.stringify([user, stream.name])
        const known = acked.get(key)
        if (known === undefined || cursor.offset > known.offset) {
          acked.set(key, { user, stream, offset: cursor.offset })
        }
      }
    }
    const after = query.after
    const rows = [...acked.values()]
      .filter(
        ({ user, stream }) =>
          after === undefined ||
          compareText(user, after.user) > 0 ||
          (user === after.user && compareText(stream.name, after.stream) > 0),
      )
      .sort((a, b) => compareText(a.user, b.user) || compareText(a.stream.name, b.stream.name))
    const cap = unreadCountCap(query)
    const episodes: UnreadEpisode[] = []
    for (const { user, stream, offset } of rows) {
      if (episodes.length >= query.limit) break
      if (offset >= stream.head) continue
      let first: StoredMessage | undefined
      let unread = 0
      for (const message of await this.read(stream.name, offset, stream.head - offset)) {
        if (message.from === user) continue
        first ??= message
        unread += 1
        if (unread >= cap) break
      }
      if (first === undefined || first.ts >= query.committedBefore) continue
      episodes.push({
        user,
        stream: stream.name,
        epoch: stream.epoch,
        firstUnreadOffset: first.offset,
        since: first.ts,
        unread,
      })
    }
    return episodes
  }

  /** The cursors of the clients following `stream`: those in its current epoch. */
  *#followers(stream: StreamRecord): Iterable<CursorRecord> {
    for (const cursors of this.#cursors.values()) {
      const cursor = cursors.get(stream.name)
      if (cursor !== undefined && cursor.epoch === stream.epoch) yield cursor
    }
  }
}

/** Said it is closing and was not seen since (see `ClientRecord.closingAt`). */
function isClosing(client: ClientRecord): boolean {
  return client.closingAt !== null && client.lastSeenAt <= client.closingAt
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
