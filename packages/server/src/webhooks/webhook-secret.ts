import { resolveSecret } from '../auth/secret-file.js'

/**
 * The secret webhook deliveries are signed with: `--webhook-secret-file` or
 * `SEQLINE_WEBHOOK_SECRET`, never the command line. Throws when neither (or both) is set.
 *
 * @example
 * const secret = readWebhookSecret(config.webhookSecretFile, process.env)
 */
export function readWebhookSecret(file: string | undefined, env: NodeJS.ProcessEnv): string {
  const secret = resolveSecret({
    file,
    env,
    envName: 'SEQLINE_WEBHOOK_SECRET',
    what: 'webhook secret',
    fileFlag: '--webhook-secret-file',
  })
  if (secret === undefined) {
    throw new Error(
      '--webhook-url needs the secret its deliveries are signed with: --webhook-secret-file <path> or SEQLINE_WEBHOOK_SECRET',
    )
  }
  return secret
}
