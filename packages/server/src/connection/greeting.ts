import { ErrorCode, type HelloFrame, SeqlineError, type ServerFrame } from '@seqline/protocol'
import type { Principal } from '../auth/authenticator.js'
import type { Replaceable } from './client-registry.js'
import type { ConnectionContext } from './connection-context.js'
import type { ConnectionPort } from './connection-port.js'

/** Who a hello speaks for, once authenticated and settled. */
interface Identity {
  readonly principal: Principal
  readonly clientId: string
  /** The secret of a client this hello created. */
  readonly secret: string | undefined
  /** Why the client the hello named was not kept. */
  readonly replaced: 'unknown' | 'in-use' | undefined
}

/**
 * Answers a hello (DESIGN §5): authenticates its token, settles the client the connection speaks
 * for, opens the engine session, says `welcome`, then resumes the streams the hello lists. A hello
 * that is refused closes the connection.
 */
export async function greet(hello: HelloFrame, port: ConnectionPort): Promise<void> {
  port.lifecycle.greet()
  let identity: Identity
  try {
    identity = await identify(hello, port.ctx, port.connection)
  } catch (err) {
    port.refuse(err)
    return
  }
  const { principal, clientId } = identity
  if (port.lifecycle.state.kind === 'closed' || port.linkClosed) {
    // The link closed while we awaited the store.
    port.ctx.registry.release(clientId, port.connection)
    return
  }
  const session = port.ctx.engine.sessions.open({
    connectionId: port.connection.id,
    principal,
    clientId,
    follower: port.connection,
    ending: port,
  })
  port.lifecycle.open(session, principal)
  port.greeted()
  port.send(welcomeFrame(identity, port.connection.id, port.ctx.settings.heartbeatMs))
  for (const entry of hello.resume ?? []) {
    try {
      await session.subscribe(entry.stream, { epoch: entry.epoch, offset: entry.offset })
    } catch (err) {
      port.sendError(err, entry.stream)
    }
  }
}

/**
 * Authenticates the hello's token and settles its client: the one it names, verified by its
 * secret and given a slot among its live connections (replacing the one `takeover` names), or a
 * new one when that client is unknown or full and the hello accepts a fresh identity. Throws what
 * refuses the hello.
 */
async function identify(
  hello: HelloFrame,
  ctx: ConnectionContext,
  connection: Replaceable,
): Promise<Identity> {
  const { engine, registry } = ctx
  const principal = await ctx.authenticate(hello.token)
  let clientId = hello.clientId
  let replaced: Identity['replaced']
  try {
    if (clientId !== undefined) {
      await engine.clients.verify(principal.userId, clientId, hello.secret ?? '')
      if (registry.claim(clientId, connection, hello.takeover) === 'full') {
        if (hello.onInUse !== 'fresh') {
          throw new SeqlineError(
            ErrorCode.TOO_MANY_CONNECTIONS,
            'this client already has its maximum of live connections',
          )
        }
        replaced = 'in-use'
        clientId = undefined
      }
    }
  } catch (err) {
    if (!(err instanceof SeqlineError && err.code === ErrorCode.CLIENT_UNKNOWN)) throw err
    // Garbage-collected or forgotten (DESIGN §9): a new identity; positions stay valid.
    replaced = 'unknown'
    clientId = undefined
  }
  if (clientId !== undefined) return { principal, clientId, secret: undefined, replaced }
  const created = await engine.clients.register(principal.userId)
  registry.claim(created.clientId, connection, undefined)
  return { principal, clientId: created.clientId, secret: created.secret, replaced }
}

function welcomeFrame(identity: Identity, connectionId: string, heartbeatMs: number): ServerFrame {
  const { principal, clientId, secret, replaced } = identity
  return {
    t: 'welcome',
    clientId,
    ...(secret === undefined ? {} : { secret }),
    connectionId,
    userId: principal.userId,
    heartbeatMs,
    ...(replaced === undefined ? {} : { replaced }),
    ...(principal.expiresAt === undefined ? {} : { expiresAt: principal.expiresAt }),
  }
}
