const HUES = [12, 48, 96, 160, 200, 232, 268, 312] as const

/** A coloured initial: no images, no external assets. */
export function Avatar({ user, online }: { readonly user: string; readonly online?: boolean }) {
  let hash = 0
  for (const ch of user) hash = (hash * 31 + ch.charCodeAt(0)) >>> 0
  const hue = HUES[hash % HUES.length] ?? 232
  return (
    <span className="avatar" style={{ backgroundColor: `hsl(${hue} 55% 45%)` }} aria-hidden="true">
      {user.slice(0, 1).toUpperCase()}
      {online !== undefined && <span className={`presence-dot${online ? ' online' : ''}`} />}
    </span>
  )
}
