/** Stream names: 1–200 characters, starting with a letter or digit (DESIGN §2). */
export const STREAM_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9:_.@/-]{0,199}$/

/** Whether `name` is a valid stream name. */
export function isValidStreamName(name: unknown): name is string {
  return typeof name === 'string' && STREAM_NAME_PATTERN.test(name)
}
