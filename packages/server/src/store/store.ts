import type { ErrorCode } from '@seqline/protocol'

// The persistence seam (DESIGN §3). Every method is async so that a networked store (PostgreSQL)
// implements the same interface as the embedded ones. Every implementation passes the one Store
// conformance suite in test/support/store-conformance.ts.

/** Content type of streams created over WebSocket: one JSON value per message. */
export const JSON_CONTENT_TYPE = 'application/json'

/**
 * Retention of one stream (DESIGN §9). The limits combine: whichever trims more wins, and
 * `TrimRequest.keepFrom` (what live readers on the node still have to send) is never trimmed.
 *
 * **Until acked.** A client *follows* a stream when it has a cursor in the stream's current epoch
 * (a cursor of an older epoch is a position in a history that is gone). With `untilAcked`, a
 * message is trimmed once every registered client following the stream has acked it (cursor
 * offset ≥ message offset). A stream that no client follows keeps its messages: nobody has them
 * yet. `maxAgeMs` is then the cap — a message older than it is trimmed whatever the acks, so a
 * client that vanished cannot hold history forever (client GC also removes it, with its cursors)
 * — and `maxCount` still caps the count. The stores compute the lowest cursor of the followers in
 * one set-based statement per stream.
 */
export interface RetentionPolicy {
  /** Drop messages older than this many milliseconds. */
  readonly maxAgeMs?: number | undefined
  /** Keep at most this many messages. */
  readonly maxCount?: number | undefined
  /** Drop messages every client following the stream has acked (see above). */
  readonly untilAcked?: boolean | undefined
}

/** A client following a stream whose acks are behind its head: it holds an `untilAcked` tail back. */
export interface RetentionHolder {
  readonly clientId: string
  readonly userId: string
  /** Its cursor: the highest offset it acked in the stream's current epoch. */
  readonly offset: number
  /** Messages committed after its cursor: `head − offset`. */
  readonly behind: number
  readonly lastSeenAt: number
}

/** A stream's metadata row. */
export interface StreamRecord {
  readonly name: string
  /** Opaque id of this history of the stream; a new one is drawn when the stream is (re)created. */
  readonly epoch: string
  readonly contentType: string
  /** Highest committed offset; 0 while empty. */
  readonly head: number
  /** Lowest retained offset; `head + 1` when nothing is retained. */
  readonly tail: number
  readonly createdAt: number
  /** Closed streams accept no appends (Durable Streams §4.1). */
  readonly closed: boolean
  /** The producer publish that closed the stream, so that its retry is recognised. */
  readonly closedBy: ProducerRef | null
  /** Sliding time-to-live in seconds (Durable Streams `Stream-TTL`). */
  readonly ttlSeconds: number | null
  /** Absolute expiry, ms since the Unix epoch (Durable Streams `Stream-Expires-At`). */
  readonly expiresAt: number | null
  /** Last read or write, ms; drives the sliding TTL. */
  readonly lastAccessAt: number
  /** Last `Stream-Seq` accepted over HTTP (compared as a string). */
  readonly streamSeq: string | null
  readonly retention: RetentionPolicy | null
  /** Where this stream was forked from (Durable Streams §4.2); `null` for a stream that is no fork. */
  readonly fork: StreamFork | null
  /**
   * Deleted while forks still referenced it (Durable Streams §4.2 soft-delete): a tombstone that
   * keeps the name from being reused until its last fork is gone. It holds no messages (forks are
   * copies, see `CreateStreamInput.fork`) and refuses every append with GONE.
   */
  readonly softDeleted: boolean
}

/** Where a stream's history stands: the epoch and the highest committed offset. */
export interface StreamHead {
  readonly epoch: string
  readonly head: number
}

/** The lineage of a fork: its source and the position it diverged at. */
export interface StreamFork {
  /** Name of the source stream. */
  readonly source: string
  /** The fork inherited the source's messages `1 … offset`. */
  readonly offset: number
  /**
   * Inherited past `offset` (Durable Streams `Stream-Fork-Sub-Offset`): for JSON streams that many
   * more messages, for other streams that many bytes of message `offset + 1`. 0 when none.
   */
  readonly subOffset: number
}

/** Identifies one publish: producer id, producer epoch and per-epoch sequence number (DESIGN §4). */
export interface ProducerRef {
  readonly id: string
  readonly epoch: number
  readonly seq: number
}

/** Per (stream, producer) state, committed in the same transaction as the append it describes. */
export interface ProducerState {
  readonly epoch: number
  readonly lastSeq: number
  /** Offset of the last message written by `lastSeq`. */
  readonly lastOffset: number
  readonly updatedAt: number
}

/** A message as stored. `data` holds the bytes exactly as appended (JSON text for JSON streams). */
export interface StoredMessage {
  readonly offset: number
  readonly producer: string | null
  readonly seq: number | null
  readonly from: string | null
  readonly ts: number
  readonly data: Uint8Array
}

/** A run of consecutive messages of a JSON stream, as one JSON array (`[m1,m2,…]`). */
export interface JsonArrayChunk {
  /** Offset of the first and of the last message in the array (offsets are consecutive). */
  readonly first: number
  readonly last: number
  readonly count: number
  /** Payload bytes of the messages, without the brackets and commas. */
  readonly bytes: number
  readonly body: Buffer
}

export interface CreateStreamInput {
  readonly name: string
  readonly contentType: string
  readonly ttlSeconds?: number | null
  readonly expiresAt?: number | null
  readonly retention?: RetentionPolicy | null
  /** Create the stream already closed (Durable Streams PUT with `Stream-Closed: true`). */
  readonly closed?: boolean
  /** Messages to append in the same transaction as the creation. */
  readonly initial?: readonly Uint8Array[]
  readonly from?: string | null
  /**
   * Create the stream as a fork of `fork.source` (Durable Streams §4.2). Copy-on-fork: the source's
   * retained messages up to the fork point are copied, in the same transaction, at the same
   * offsets and in the source's epoch, so that offsets agree between source and fork. Producer
   * state and `Stream-Seq` are not inherited. `initial` messages follow the inherited ones.
   */
  readonly fork?: StreamFork | undefined
  readonly now: number
}

/**
 * `created`: a new stream. `exists`: a stream with the same configuration already exists (the
 * creation is idempotent). `conflict`: a stream with another configuration exists.
 */
export type CreateStreamResult =
  | { readonly kind: 'created'; readonly stream: StreamRecord }
  | { readonly kind: 'exists'; readonly stream: StreamRecord }
  | { readonly kind: 'conflict'; readonly stream: StreamRecord }
  /**
   * A fork that cannot be created: its source does not exist (STREAM_NOT_FOUND), is soft-deleted
   * or has another content type (CONFLICT), or the fork point is past its head (BAD_REQUEST).
   */
  | { readonly kind: 'rejected'; readonly code: ErrorCode; readonly message: string }

export interface AppendRequest {
  readonly stream: string
  /** One message per element. Empty only together with `close`. */
  readonly payloads: readonly Uint8Array[]
  /** User id of the publisher; `null` for server-side publishes. */
  readonly from: string | null
  readonly producer?: ProducerRef | undefined
  /** Durable Streams `Stream-Seq`: must be strictly greater (as a string) than the last one. */
  readonly streamSeq?: string | undefined
  /** Close the stream atomically with this append. */
  readonly close?: boolean | undefined
  /** If set, the stream's content type must match, or the append is refused with CONFLICT. */
  readonly contentType?: string | undefined
  /** Create the stream with this configuration if it does not exist (WebSocket publishes). */
  readonly createIfMissing?: { readonly contentType: string } | undefined
  readonly now: number
}

export type AppendResult =
  | {
      readonly kind: 'appended'
      readonly epoch: string
      /** The committed messages, in offset order (empty for a close without data). */
      readonly messages: readonly StoredMessage[]
      /** Head after this append. */
      readonly head: number
      readonly closed: boolean
      /** The producer's state after this append (when a producer was given). */
      readonly producer?: ProducerState | undefined
    }
  | {
      /** A retry of a publish already committed: nothing was written. */
      readonly kind: 'duplicate'
      readonly epoch: string
      /** Offset of the last message that publish wrote (0 when it is no longer known). */
      readonly offset: number
      readonly lastSeq: number
      readonly closed: boolean
    }
  | {
      readonly kind: 'rejected'
      readonly code: ErrorCode
      readonly message: string
      readonly expectedSeq?: number | undefined
      readonly receivedSeq?: number | undefined
      /** With PRODUCER_FENCED: the producer epoch the server holds. */
      readonly producerEpoch?: number | undefined
      readonly closed?: boolean | undefined
    }

/** A client named with its owner (what a deletion reports). */
export interface ClientRef {
  readonly id: string
  readonly userId: string
}

/** A registered client: one app instance of one user (G7). */
export interface ClientRecord {
  readonly id: string
  readonly userId: string
  /** SHA-256 of the client secret, hex. The secret itself is never stored. */
  readonly secretHash: string
  readonly createdAt: number
  readonly lastSeenAt: number
  /**
   * When the client said it is closing for good (`Store.markClientClosing`); `null` otherwise.
   * The client is *closing* while it was not seen since (`lastSeenAt ≤ closingAt`): seen again,
   * it came back.
   */
  readonly closingAt: number | null
}

/** A client to register: a `ClientRecord` before it has a lifecycle. */
export type NewClientRecord = Omit<ClientRecord, 'closingAt'>

/** Registered clients by state (`Store.countClientsByState`); every client is in one. */
export interface ClientStateCounts {
  /** Seen since the time asked about, and not closing. */
  readonly active: number
  /** Not seen since the time asked about, and not closing. */
  readonly idle: number
  /** Said it is closing and was not seen since. */
  readonly closing: number
}

/** The highest offset a client has acked on a stream (cumulative). */
export interface CursorRecord {
  readonly clientId: string
  readonly stream: string
  readonly epoch: string
  readonly offset: number
  readonly updatedAt: number
}

/** One client's cursor on a stream, as support and operators see it (delivery state). */
export interface FollowerPosition {
  readonly clientId: string
  readonly userId: string
  /** The epoch of the cursor: another than the stream's means a history that is gone. */
  readonly epoch: string
  /** The highest offset the client acked (cumulative). */
  readonly offset: number
  readonly updatedAt: number
  /** Whether the cursor is in the stream's current epoch (the client follows the stream). */
  readonly following: boolean
  /** How far behind the head it is, `head − offset`, when following; `null` otherwise. */
  readonly behind: number | null
}

/** Where a stream stands and a page of its clients' positions (`Store.streamDelivery`). */
export interface StreamDelivery {
  readonly stream: string
  readonly epoch: string
  readonly head: number
  /** Lowest retained offset: a client whose `offset + 1 < tail` missed trimmed messages. */
  readonly tail: number
  /** In client id order. */
  readonly followers: readonly FollowerPosition[]
}

/** One page of `Store.streamDelivery`. */
export interface StreamDeliveryQuery {
  /** Only the clients of this user ("user X never got message Y"). */
  readonly userId?: string | undefined
  /** The clients after this id (keyset pagination: pass the last id of the previous page). */
  readonly after?: string | undefined
  readonly limit: number
}

/** One stream of a client, as support and operators see it (`Store.clientDelivery`). */
export interface ClientStreamDelivery {
  readonly stream: string
  /** The client's cursor: the epoch and the highest offset it acked. */
  readonly epoch: string
  readonly offset: number
  readonly updatedAt: number
  /** The stream now; `null` when it does not exist (any more). */
  readonly head: number | null
  readonly tail: number | null
  /** Whether the cursor is in the stream's current epoch. */
  readonly following: boolean
  /** Messages after the cursor, `head − offset`, when following; `null` otherwise. */
  readonly unacked: number | null
}

/** One page of `Store.clientDelivery`. */
export interface ClientDeliveryQuery {
  /** The streams after this name (keyset pagination). */
  readonly after?: string | undefined
  readonly limit: number
}

export interface TrimRequest {
  readonly policy: RetentionPolicy
  readonly now: number
  /** Never trim this offset or anything after it (protects replays in progress). */
  readonly keepFrom?: number | undefined
}

/**
 * One page of `Store.findUnread`: the unread messages of offline users, behind `unread` webhooks.
 */
export interface UnreadQuery {
  /** A user is offline when every one of their clients has `lastSeenAt < offlineBefore`. */
  readonly offlineBefore: number
  /** A row is returned when its first unread message has `ts < committedBefore`. */
  readonly committedBefore: number
  /** Rows after this (user, stream), in (user, stream) order; the first page without. */
  readonly after?: { readonly user: string; readonly stream: string } | undefined
  readonly limit: number
  /**
   * Count at most this many unread messages per row (`UnreadEpisode.unread` is then a lower
   * bound): counting is a scan of the messages after the acknowledgement, and a user away from a
   * busy stream for days must not cost a scan of all of them on every run. Default: no cap.
   */
  readonly maxCount?: number | undefined
}

/** One offline user's unread messages in one stream (`Store.findUnread`). */
export interface UnreadEpisode {
  readonly user: string
  readonly stream: string
  /** The stream's current epoch (the cursors counted are of this epoch). */
  readonly epoch: string
  /** Offset of the first message after the user's furthest ack not sent by the user. */
  readonly firstUnreadOffset: number
  /** When that message was committed, ms. */
  readonly since: number
  /** How many such messages are retained, at most `UnreadQuery.maxCount`. */
  readonly unread: number
}

/** The store every Seqline node persists to. */
export interface Store {
  /** Opens the store: creates or migrates the schema. */
  init(): Promise<void>
  /** Closes connections / file handles. Pending writes have completed when it resolves. */
  close(): Promise<void>

  createStream(input: CreateStreamInput): Promise<CreateStreamResult>
  getStream(name: string): Promise<StreamRecord | undefined>
  /**
   * Epoch and head of each of `names` that exists, in one query where the backend allows: the
   * heal job of every node asks for all the streams it follows, every round. Missing and
   * soft-deleted streams are absent from the map.
   */
  getHeads(names: readonly string[]): Promise<Map<string, StreamHead>>
  /**
   * Deletes the stream, its messages, producer states and cursors. Returns whether a live (not
   * soft-deleted) stream existed. A stream that forks still reference is soft-deleted instead
   * (kept as a tombstone, see `StreamRecord.softDeleted`); deleting the last fork of a
   * soft-deleted stream removes that tombstone too, up the fork chain (Durable Streams §4.2).
   */
  deleteStream(name: string): Promise<boolean>
  /**
   * Names of live streams whose `expiresAt` or sliding TTL (`lastAccessAt + ttlSeconds`) has
   * passed at `now`, in name order, at most `limit`.
   */
  expiredStreams(now: number, limit: number): Promise<string[]>
  /** Names of all streams, in name order, `limit` at a time after `after`. */
  listStreams(after: string | undefined, limit: number): Promise<StreamRecord[]>
  /** Marks a read or write for the sliding TTL. */
  touchStream(name: string, now: number): Promise<void>

  /**
   * Appends every request in ONE transaction (group commit), in order. Each request is validated
   * on its own (producer fencing and sequencing, closure, content type, stream seq) and gets its
   * own result; a rejected request writes nothing and does not affect the others.
   */
  append(batch: readonly AppendRequest[]): Promise<AppendResult[]>
  /**
   * Messages with `offset > after`, in offset order: at most `limit` of them and, past the first
   * (always included, whatever its size, so that a reader always progresses), at most `maxBytes`
   * payload bytes. The byte bound is applied by the store before it loads the payloads, so that
   * a page of large messages never costs more than `maxBytes` plus one message. Default: no byte
   * bound.
   */
  read(name: string, after: number, limit: number, maxBytes?: number): Promise<StoredMessage[]>
  /**
   * The messages with `offset > after` of a JSON stream as one JSON array body — at most `limit`
   * of them and, past the first (always included), at most `maxBytes` payload bytes — assembled
   * by the store in one query (the cold catch-up path of Durable Streams reads). `undefined` when
   * there is no such message.
   */
  readJsonArray(
    name: string,
    after: number,
    limit: number,
    maxBytes: number,
  ): Promise<JsonArrayChunk | undefined>
  getProducer(stream: string, producerId: string): Promise<ProducerState | undefined>
  /**
   * Deletes the producer states not used since `updatedBefore` (`updatedAt < updatedBefore`), on
   * every stream; returns how many. Durable Streams lets producer state expire: a producer that
   * comes back after that starts over (a new producer: seq 0, or PRODUCER_SEQ_GAP expecting 0),
   * and a retry older than the expiry is no longer recognised as a duplicate — so the expiry must
   * be far longer than any producer retries. A set-based scan of all producer states: run it
   * rarely (hourly), from any number of nodes at once.
   */
  gcProducers(updatedBefore: number): Promise<number>

  /** Registers a client; CONFLICT when the id is taken. */
  createClient(record: NewClientRecord): Promise<void>
  /**
   * Registers several clients in one transaction (connection storms register in batches): all
   * of them, or none and CONFLICT when an id is taken or given twice.
   */
  createClients(records: readonly NewClientRecord[]): Promise<void>
  getClient(id: string): Promise<ClientRecord | undefined>
  countClientsOfUser(userId: string): Promise<number>
  /** Updates `lastSeenAt` of these clients. */
  touchClients(ids: readonly string[], now: number): Promise<void>
  /** Deletes the client and its cursors. Returns whether it existed. */
  deleteClient(id: string): Promise<boolean>
  /**
   * Replaces the secret hash of a client (secret rotation: the old secret stops working at once).
   * Returns whether the client existed.
   */
  updateClientSecret(id: string, secretHash: string): Promise<boolean>
  /**
   * Deletes clients not seen since `seenBefore` (`lastSeenAt < seenBefore`) with their cursors;
   * returns them (id and owner), in id order.
   */
  gcClients(seenBefore: number): Promise<ClientRef[]>
  /**
   * Records that a client said it is closing for good, at `at` (sets `closingAt`). Returns
   * whether the client exists.
   */
  markClientClosing(id: string, at: number): Promise<boolean>
  /**
   * Deletes, with their cursors, the clients that said they were closing at or before
   * `closedBefore` (`closingAt ≤ closedBefore`) and were not seen since (`lastSeenAt ≤
   * closingAt`); returns them (id and owner), in id order. Set-based: one statement per table.
   */
  forgetClosingClients(closedBefore: number): Promise<ClientRef[]>
  /**
   * How many registered clients are active (seen since `seenSince`), idle or closing (see
   * `ClientRecord.closingAt`), in one query: a scan of the clients, for a metric.
   */
  countClientsByState(seenSince: number): Promise<ClientStateCounts>

  /**
   * Saves cumulative acks: per (client, stream) the offset only moves forward within an epoch; an
   * entry with another epoch replaces the cursor. Cursors of unknown clients are ignored.
   */
  saveCursors(entries: readonly Omit<CursorRecord, 'updatedAt'>[], now: number): Promise<void>
  getCursors(clientId: string): Promise<CursorRecord[]>
  getCursorsOfStream(stream: string): Promise<CursorRecord[]>

  /**
   * Delivery state of a stream, in one query: its epoch, head and tail, and a page of the
   * positions of the clients with a cursor on it (following its current epoch or not), with how
   * far behind the head each is. `undefined` for an unknown or soft-deleted stream.
   */
  streamDelivery(stream: string, query: StreamDeliveryQuery): Promise<StreamDelivery | undefined>
  /**
   * Delivery state of a client, in one query: a page of its streams (name order) with its cursor,
   * the stream's head and tail, and how many messages it has not acked. Empty for an unknown
   * client.
   */
  clientDelivery(clientId: string, query: ClientDeliveryQuery): Promise<ClientStreamDelivery[]>

  /** Applies a retention policy to one stream; returns the new tail. */
  trim(name: string, request: TrimRequest): Promise<number>
  /**
   * The clients following `stream` (cursor in its current epoch) whose cursor is below its head,
   * lowest cursor first (then by client id), at most `limit`: who holds an `untilAcked` tail back,
   * and by how much (operators, metrics). Empty for an unknown stream.
   */
  retentionHolders(stream: string, limit: number): Promise<RetentionHolder[]>

  /**
   * The unread messages of offline users, in ONE set-based query (`unread` webhooks). A user is
   * offline when every one of their clients has `lastSeenAt < offlineBefore`. For each offline
   * user and each stream in which one of their clients has a cursor of the stream's current epoch,
   * `acked` is the highest such cursor offset of the user's clients; the unread messages are the
   * retained ones with `offset > acked` whose `from` is not the user (server publishes, with
   * `from` null, count). A row is returned when there is at least one and the first was committed
   * before `committedBefore`; rows in (user, stream) order (byte order), after `after`, at most
   * `limit`.
   */
  findUnread(query: UnreadQuery): Promise<UnreadEpisode[]>

  /**
   * Takes the lease `name` for `holder` until `now + ttlMs`, or renews it, when it is free,
   * expired (its expiry ≤ `now`) or already held by `holder` — atomically, so that of nodes
   * claiming at once exactly one gets it. Resolves whether `holder` holds it now. A lease lets
   * one node of a deployment do a job (the webhook dispatcher); its holder renews it well within
   * the TTL and stops the job when a renewal fails. Nodes compare their own clocks with the stored
   * expiry: keep the TTL far above their clock skew.
   */
  claimLease(name: string, holder: string, ttlMs: number, now: number): Promise<boolean>
  /**
   * Gives up the lease `name` if `holder` holds it (expired or not), so that another node may
   * take it at once; resolves whether it did.
   */
  releaseLease(name: string, holder: string): Promise<boolean>
}
