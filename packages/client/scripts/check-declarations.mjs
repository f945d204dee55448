// Fails if a published declaration file of @seqline/client exposes a member marked `@internal`:
// what the client drives inside a handle belongs behind a non-exported interface, not on the
// public type. Run after `npm run build`: node packages/client/scripts/check-declarations.mjs
import console from 'node:console'
import { readFile, readdir } from 'node:fs/promises'
import process from 'node:process'
import { URL, fileURLToPath } from 'node:url'

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const files = (await readdir(dist, { recursive: true })).filter((name) => name.endsWith('.d.ts'))
if (files.length === 0) {
  console.error(`no declaration files in ${dist}: run the build first`)
  process.exit(1)
}
let found = 0
for (const name of files) {
  const lines = (await readFile(`${dist}${name}`, 'utf8')).split('\n')
  lines.forEach((line, i) => {
    if (!line.includes('@internal')) return
    found += 1
    console.error(`${name}:${i + 1}: ${line.trim()}`)
  })
}
if (found > 0) {
  console.error(`${found} @internal member(s) in the published declarations`)
  process.exit(1)
}
console.log(`@seqline/client declarations: ${files.length} files, no @internal member`)
