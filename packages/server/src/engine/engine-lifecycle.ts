import type { Logger } from 'pino'

/** Why a client was forgotten: deleted by its user, unseen for the TTL, or closed for good. */
export type ForgetReason = 'forgotten' | 'expired' | 'closed'

/**
 * What the engine reports as it happens: clients registered and forgotten, streams deleted. The
 * operation resolves once its report resolved, so a report that records the event durably (the
 * webhook log) makes the event as durable as the operation's answer. A report that fails is
 * logged; the operation stands.
 */
export interface EngineLifecycle {
  clientRegistered(user: string, clientId: string): Promise<void>
  clientForgotten(user: string, clientId: string, reason: ForgetReason): Promise<void>
  streamDeleted(stream: string, reason: 'deleted' | 'expired'): Promise<void>
}

/** Tells `lifecycle`, if any; a failed report is logged and the operation stands. */
export async function report(
  lifecycle: EngineLifecycle | undefined,
  logger: Logger,
  tell: (lifecycle: EngineLifecycle) => Promise<void>,
): Promise<void> {
  if (lifecycle === undefined) return
  try {
    await tell(lifecycle)
  } catch (err) {
    logger.error({ err }, 'lifecycle event not recorded')
  }
}
